// The tests share one GPU stream, and a CUDA graph capture on it would swallow other threads' kernels:
// run them one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
