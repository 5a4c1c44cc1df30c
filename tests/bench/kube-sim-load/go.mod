module ironlb/kube-sim-load

go 1.19
