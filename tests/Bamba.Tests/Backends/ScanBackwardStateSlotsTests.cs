using Bamba.Backends.Cuda.Training;

namespace Bamba.Tests.Backends;

/// <summary>
/// The GPU scan backward's state buffers, sized on the host (the kernel itself runs in Bamba.Cuda.Tests'
/// TrainKernelTests): a kept state for every chunk of <c>interval</c> steps after a sequence's first, and one chunk's
/// states a sequence, instead of one state per row.
/// </summary>
public class ScanBackwardStateSlotsTests
{
    [Theory]
    [InlineData(4, 1 + 0 + 5 + 2, 4 + 1 + 4 + 4)]
    [InlineData(1, 4 + 0 + 22 + 8, 1 + 1 + 1 + 1)]
    [InlineData(32, 0, 5 + 1 + 23 + 9)]
    public void CountsACheckpointPerLaterChunkAndOneChunkPerSequence(int interval, long checkpoints, long chunk)
    {
        Assert.Equal((checkpoints, chunk), CudaTrainOps.SsdBackwardStateSlots([5, 1, 23, 9, 0], interval));
    }

    /// <summary>The bamba-9b LoRA bench's row (8 sequences of 512): 376 states of d_inner × d_state instead of 4096.</summary>
    [Fact]
    public void TheNineBillionBenchRowKeepsUnderATenthOfTheStates()
    {
        var (checkpoints, chunk) = CudaTrainOps.SsdBackwardStateSlots(Enumerable.Repeat(512, 8), CudaTrainOps.SsdStateInterval);
        Assert.Equal(8 * 15, checkpoints);
        Assert.Equal(8 * 32, chunk);
        long stateBytes = 4L * 8192 * 128; // d_inner × d_state, float32
        Assert.Equal(1_577_058_304L, (checkpoints + chunk) * stateBytes); // was 4096 states: 17 179 869 184 bytes
    }
}
