// The tests share one GPU stream, and a CUDA graph capture on it would swallow other threads' kernels:
// one collection for the whole assembly runs them one at a time.
[assembly: CollectionBehavior(CollectionBehavior.CollectionPerAssembly)]
