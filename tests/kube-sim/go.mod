module ironlb/kube-sim

go 1.19
