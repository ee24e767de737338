using Bamba.Backends.Cuda;

namespace Bamba.Tests.Scheduling;

/// <summary>
/// The CUDA KV pool's sharing, without a device: holder counts (a block returns only when its last holder lets go) and
/// which block a restored path takes for each index (the deepest segment's, a full block over an earlier partial copy).
/// </summary>
public class KvBlockSharingTests
{
    [Fact]
    public void ABlockReturnsWhenItsLastHolderDropsIt()
    {
        var holders = new BlockHolders();
        holders.Grow(4);
        int a = holders.Take(), b = holders.Take();
        holders.Share(a); // a cached prefix
        holders.Share(a); // a sequence restored from it
        Assert.Equal(2, holders.Free);

        holders.Drop(a); // the writer finishes
        holders.Drop(a); // the cache evicts the point
        Assert.Equal(2, holders.Free);
        Assert.Equal(1, holders.Holders(a));
        holders.Drop(a); // the restored sequence finishes
        holders.Drop(b);
        Assert.Equal(4, holders.Free);
        Assert.Equal(0, holders.Holders(a));
    }

    [Fact]
    public void AFreeBlockCanNeitherBeSharedNorDropped()
    {
        var holders = new BlockHolders();
        holders.Grow(2);
        int a = holders.Take();
        holders.Drop(a);
        Assert.Throws<InvalidOperationException>(() => holders.Share(a));
        Assert.Throws<InvalidOperationException>(() => holders.Drop(a));
        Assert.Throws<InvalidOperationException>(() => holders.Share(7));
        Assert.Equal(2, holders.Free);
    }

    [Fact]
    public void GrowingKeepsTheHoldersOfBlocksInUse()
    {
        var holders = new BlockHolders();
        holders.Grow(2);
        int a = holders.Take();
        holders.Share(a);
        holders.Grow(5);
        Assert.Equal(2, holders.Holders(a));
        Assert.Equal(4, holders.Free);
        var taken = Enumerable.Range(0, 4).Select(_ => holders.Take()).ToHashSet();
        Assert.DoesNotContain(a, taken);
    }

    /// <summary>
    /// Segments [0, 40) (a partial copy 10 of block 0), [40, 100) (block 0 shared as 20, a partial copy 21 of block 1),
    /// [100, 128) (block 1 shared as 30) and [128, 150) (a partial copy 40 of block 2).
    /// </summary>
    [Fact]
    public void ARestoredPathTakesTheDeepestSegmentsBlocks()
    {
        (int, IReadOnlyList<int>)[] path = [(0, [10]), (0, [20, 21]), (1, [30]), (2, [40])];

        Assert.Equal([10], CudaSequenceState.PathBlocks(path[..1], 40));
        Assert.Equal([20, 21], CudaSequenceState.PathBlocks(path[..2], 100));
        Assert.Equal([20, 30], CudaSequenceState.PathBlocks(path[..3], 128));
        Assert.Equal([20, 30, 40], CudaSequenceState.PathBlocks(path, 150));
        Assert.Throws<ArgumentException>(() => CudaSequenceState.PathBlocks([(0, [10])], 100));
    }
}
