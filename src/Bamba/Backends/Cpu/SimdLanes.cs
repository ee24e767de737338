using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Bamba.Backends.Cpu;

/// <summary>
/// The few vector operations the blocked kernels need, over one register type <typeparamref name="TV"/>. Kernels are
/// written once, generic over an implementing struct; the JIT specialises and inlines each, so
/// <see cref="Lanes512"/>, <see cref="Lanes256"/> and <see cref="Lanes1"/> (the scalar reference) run the same code.
/// </summary>
internal unsafe interface ILanes<TV> where TV : struct
{
    static abstract int Count { get; }
    static abstract TV Load(float* p);
    static abstract void Store(TV v, float* p);
    static abstract TV Broadcast(float* p);
    /// <summary><c>a · b + c</c>.</summary>
    static abstract TV Fma(TV a, TV b, TV c);
}

internal readonly unsafe struct Lanes512 : ILanes<Vector512<float>>
{
    public static int Count => Vector512<float>.Count;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Load(float* p) => Vector512.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector512<float> v, float* p) => v.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Broadcast(float* p) => Vector512.Create(*p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Fma(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.FusedMultiplyAdd(a, b, c);
}

internal readonly unsafe struct Lanes256 : ILanes<Vector256<float>>
{
    public static int Count => Vector256<float>.Count;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Load(float* p) => Vector256.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector256<float> v, float* p) => v.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Broadcast(float* p) => Vector256.Create(*p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Fma(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Vector256.FusedMultiplyAdd(a, b, c);
}

/// <summary>One float per "vector": the scalar path, the same blocking with no SIMD.</summary>
internal readonly unsafe struct Lanes1 : ILanes<float>
{
    public static int Count => 1;
    public static float Load(float* p) => *p;
    public static void Store(float v, float* p) => *p = v;
    public static float Broadcast(float* p) => *p;
    public static float Fma(float a, float b, float c) => MathF.FusedMultiplyAdd(a, b, c);
}
