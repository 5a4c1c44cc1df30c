/* Unit tests for speaker/nft_dl.c against the real kernel, in a private
 * network namespace of the test's own (CLONE_NEWNET): the raw nfnetlink
 * table check, and libnftables reached through the run-time loader. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <linux/netfilter.h>
#include <nftables/libnftables.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "../../speaker/nft_dl.h"

static int setup(void **state)
{
	(void)state;
	return unshare(CLONE_NEWNET) == 0 ? 0 : -1;
}

static void nft_cmd(const char *cmd)
{
	struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);

	assert_non_null(ctx);
	assert_int_equal(nft_ctx_buffer_output(ctx), 0);
	assert_int_equal(nft_ctx_buffer_error(ctx), 0);
	assert_int_equal(nft_run_cmd_from_buffer(ctx, cmd), 0);
	nft_ctx_free(ctx);
}

static void test_table_check_follows_add_and_delete(void **state)
{
	(void)state;
	assert_int_equal(nft_table_exists(NFPROTO_INET, "ironlb"), 0);
	nft_cmd("add table inet ironlb");
	assert_int_equal(nft_table_exists(NFPROTO_INET, "ironlb"), 1);
	/* Another family, another name: not the same table. */
	assert_int_equal(nft_table_exists(NFPROTO_IPV4, "ironlb"), 0);
	assert_int_equal(nft_table_exists(NFPROTO_INET, "ironlb2"), 0);
	nft_cmd("delete table inet ironlb");
	assert_int_equal(nft_table_exists(NFPROTO_INET, "ironlb"), 0);
}

static void test_table_name_longer_than_the_kernel_allows_is_invalid(void **state)
{
	char name[300];

	(void)state;
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	assert_int_equal(nft_table_exists(NFPROTO_INET, name), -EINVAL);
}

static void test_loaded_library_reports_errors_in_its_buffer(void **state)
{
	struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	const char *err;

	(void)state;
	assert_non_null(ctx);
	assert_int_equal(nft_ctx_buffer_error(ctx), 0);
	assert_int_not_equal(nft_run_cmd_from_buffer(ctx, "delete table inet nosuchtable"), 0);
	err = nft_ctx_get_error_buffer(ctx);
	assert_non_null(err);
	assert_non_null(strstr(err, "nosuchtable"));
	nft_ctx_free(ctx);
	nft_ctx_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_check_follows_add_and_delete),
		cmocka_unit_test(test_table_name_longer_than_the_kernel_allows_is_invalid),
		cmocka_unit_test(test_loaded_library_reports_errors_in_its_buffer),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
