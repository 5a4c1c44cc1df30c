/* libnftables loaded on first use (nft_dl.c), and a check for a table
 * that needs no libnftables at all. */
#ifndef IRONLB_SPEAKER_NFT_DL_H
#define IRONLB_SPEAKER_NFT_DL_H

#include <stdint.h>

/* Whether nftables table `name` of family (NFPROTO_INET, ...) exists, asked
 * over raw nfnetlink (one request, answered at once): 1 yes, 0 no,
 * -errno when it cannot be told (no nf_tables in the kernel, no
 * permission, ...). */
int nft_table_exists(uint8_t family, const char *name);

#endif
