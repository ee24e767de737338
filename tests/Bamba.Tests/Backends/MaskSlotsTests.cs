using Bamba.Backends.Cuda;

namespace Bamba.Tests.Backends;

/// <summary>
/// The GPU's table of grammar masks, host side: a mask is uploaded once and found again by its array, the least
/// recently used slot is reused, and a slot the current step holds is never given away.
/// </summary>
public class MaskSlotsTests
{
    private static ulong[] Mask() => new ulong[2];

    [Fact]
    public void AMaskIsUploadedOnceAndFoundAgain()
    {
        var slots = new MaskSlots(4);
        ulong[] a = Mask(), b = Mask();
        var first = slots.Place([a, null, b, a]);
        Assert.Equal([0, -1, 1, 0], first.SlotOfRow);
        Assert.Equal([(0, a), (1, b)], first.Missing);
        var second = slots.Place([b, a]);
        Assert.Equal([1, 0], second.SlotOfRow);
        Assert.Empty(second.Missing);
    }

    [Fact]
    public void TheLeastRecentlyUsedSlotIsReusedAndItsMaskUploadedAgainLater()
    {
        var slots = new MaskSlots(2);
        ulong[] a = Mask(), b = Mask(), c = Mask();
        slots.Place([a]);
        slots.Place([b]);
        slots.Place([a]);                         // b is now the least recently used
        var withC = slots.Place([c]);
        Assert.Equal([(1, c)], withC.Missing);    // c takes b's slot
        var withB = slots.Place([b, c]);
        Assert.Equal([0, 1], withB.SlotOfRow);    // b comes back into a's slot (a is older than c)
        Assert.Equal([(0, b)], withB.Missing);
    }

    [Fact]
    public void ASlotTheStepHoldsIsNeverGivenAway()
    {
        var slots = new MaskSlots(2);
        ulong[] a = Mask(), b = Mask(), c = Mask();
        Assert.Throws<InvalidOperationException>(() => slots.Place([a, b, c]));
        var fresh = new MaskSlots(2);
        fresh.Place([a, b]);
        var step = fresh.Place([b, c]);           // a (not b, which this step holds) makes way for c
        Assert.Equal([1, 0], step.SlotOfRow);
        Assert.Equal([(0, c)], step.Missing);
    }

    /// <summary>Random steps against a model of the table: every row's slot holds its mask, uploaded exactly when
    /// the table lacked it.</summary>
    [Fact]
    public void RandomStepsKeepEverySlotTrue()
    {
        var random = new Random(11);
        var masks = Enumerable.Range(0, 40).Select(_ => Mask()).ToArray();
        var slots = new MaskSlots(16);
        var device = new ulong[]?[16];
        for (int step = 0; step < 2000; step++)
        {
            var rows = Enumerable.Range(0, random.Next(1, 12)).Select(_ => random.Next(5) == 0 ? null : masks[random.Next(masks.Length)]).ToArray();
            var (slotOfRow, missing) = slots.Place(rows);
            foreach (var (slot, mask) in missing)
            {
                Assert.NotSame(mask, device[slot]);
                device[slot] = mask;
            }
            for (int r = 0; r < rows.Length; r++)
                if (rows[r] is null) Assert.Equal(-1, slotOfRow[r]);
                else Assert.Same(rows[r], device[slotOfRow[r]]);
        }
    }
}
