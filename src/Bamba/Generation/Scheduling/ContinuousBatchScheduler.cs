using System.Diagnostics;

namespace Bamba.Generation.Scheduling;

/// <summary>
/// Continuous batching over an <see cref="ISequenceModel"/>: a background thread advances every running sequence by
/// one model call per step (one token for a decoding sequence, a fixed-size prompt chunk for a prefilling one), and
/// sequences join from a bounded queue and leave at every step. Each sequence owns its state slot, so its tokens do
/// not depend on what else is in the batch. No HTTP here: a server, an <c>IChatClient</c> or a test drives it.
/// </summary>
public sealed class ContinuousBatchScheduler : IDisposable
{
    private readonly ISequenceModel _model;
    private readonly LinkedList<SequenceHandle> _queue = new();
    private readonly List<RunningSequence> _running = [];
    private readonly StateSlots _slots;
    private readonly KvBlockBudget _kv;
    private readonly object _gate = new(); // a Monitor (not a Lock): the loop waits on it for work
    private readonly Thread _thread;
    private readonly HashSet<int> _defaultEos;
    private readonly PrefixCache? _prefix;
    private bool _stopping;
    private int _occupiedSlots; // under _gate: lets Submit count free slots without touching the loop's list

    public ContinuousBatchScheduler(ISequenceModel model, SchedulerOptions options)
    {
        options.Validate();
        _model = model;
        Options = options;
        _slots = new StateSlots(model, options.MaxBatch);
        _kv = new KvBlockBudget(options);
        var prefix = model is IPagedKvCache paged ? paged.SplitPrefixBudget(options.PrefixCacheBytes, options.PrefillChunk) : PrefixBudget.Host(options.PrefixCacheBytes);
        // The budget admits no more KV than this, so a paged cache sized to it never runs out (see Admit); the prefix
        // cache's shared blocks are set aside beside it.
        (model as IPagedKvCache)?.ReserveKvCache(options.MaxBatch, options.MaxContext, (long)_kv.KvTotal * options.KvBlockSize, prefix.Blocks);
        _defaultEos = [.. model.Tokens.EosTokenIds];
        Metrics = new SchedulerMetrics { KvBlocksTotal = _kv.Total, StateBlocksPerSequence = options.StateBlocks, Slots = _slots.Capacity,
            PrefixCacheBudget = options.PrefixCacheBytes };
        if (options.PrefixCacheBytes > 0) _prefix = new PrefixCache(prefix, Metrics);
        _thread = new Thread(Loop) { IsBackground = true, Name = "bamba-scheduler" };
        _thread.Start();
    }

    public SchedulerOptions Options { get; }
    public SchedulerMetrics Metrics { get; }
    public ISequenceModel Model => _model;

    /// <summary>
    /// Queues a sequence. Throws <see cref="BambaException"/> for a request the model cannot run and
    /// <see cref="SchedulerFullException"/> when the queue is full. Cancelling <paramref name="cancel"/> ends it.
    /// </summary>
    public SequenceHandle Submit(SequenceRequest request, CancellationToken cancel = default)
    {
        request.Validate(_model.Tokens.VocabSize, Options.MaxContext, _model.Adapters.Count);
        if (_kv.BlocksFor(request.TotalTokens) > _kv.Total)
            throw new BambaException(Options.StateBlocks == 0
                ? $"the request needs {request.TotalTokens} tokens of KV cache; the server holds {_kv.Total * Options.KvBlockSize}"
                : $"the request needs {_kv.BlocksFor(request.TotalTokens)} memory blocks ({request.TotalTokens} tokens of KV cache and its recurrent state); the server holds {_kv.Total}");
        var handle = new SequenceHandle(request, OnCancel, CancellationToken.None);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_stopping, this);
            // Queued requests that free slots will take at once are not waiting: only the rest count against MaxQueue.
            if (_queue.Count >= (long)Options.MaxQueue + (Options.MaxBatch - _occupiedSlots))
            {
                Metrics.Rejected();
                throw new SchedulerFullException(_queue.Count, RetryAfter());
            }
            _queue.AddLast(handle);
            Metrics.Accepted();
            Metrics.SetQueueLength(_queue.Count);
            Monitor.Pulse(_gate);
        }
        // Registered after queueing so that an already-cancelled token finds the handle in the queue.
        if (cancel.CanBeCanceled) RegisterCancel(handle, cancel);
        return handle;
    }

    /// <summary>Runs one sequence to its end and returns its tokens (a convenience for in-process callers).</summary>
    public async Task<(GeneratedToken[] Tokens, SequenceResult Result)> RunAsync(SequenceRequest request, CancellationToken cancel = default)
    {
        using var handle = Submit(request, cancel);
        var tokens = new List<GeneratedToken>();
        await foreach (var t in handle.Tokens.ReadAllAsync(CancellationToken.None).ConfigureAwait(false)) tokens.Add(t);
        return (tokens.ToArray(), await handle.Completion.ConfigureAwait(false));
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_stopping) return;
            _stopping = true;
            Monitor.Pulse(_gate);
        }
        _thread.Join();
    }

    private static void RegisterCancel(SequenceHandle handle, CancellationToken cancel)
    {
        var registration = cancel.Register(static h => ((SequenceHandle)h!).Cancel(), handle);
        handle.Completion.ContinueWith(_ => registration.Unregister(), TaskScheduler.Default);
    }

    /// <summary>A rough wait: the queue drains about one batch per average sequence lifetime; at least a second.</summary>
    private TimeSpan RetryAfter() => TimeSpan.FromSeconds(Math.Clamp(_queue.Count / Math.Max(1, Options.MaxBatch), 1, 60));

    private void OnCancel(SequenceHandle handle)
    {
        lock (_gate)
        {
            // A queued sequence never got a slot: end it here. A running one is ended by the loop at its next step.
            if (_queue.Remove(handle))
            {
                Metrics.Cancelled();
                handle.Finish(new SequenceResult(SequenceFinish.Cancelled, handle.Request.Prompt.Length, 0, null));
                Metrics.SetQueueLength(_queue.Count);
            }
            Monitor.Pulse(_gate);
        }
    }

    private void Loop()
    {
        while (true)
        {
            lock (_gate)
            {
                while (!_stopping && _queue.Count == 0 && _running.Count == 0) Monitor.Wait(_gate);
                if (_stopping) break;
                Admit();
            }
            RetireCancelled();
            if (_running.Count > 0) RunStep();
        }
        Shutdown();
    }

    /// <summary>
    /// Moves queued sequences into free slots while their KV reservation fits (first come, first served), except that
    /// a request which a running prefill is about to give a deeper cache point waits for it (<see cref="WaitsForASharedPrefix"/>).
    /// </summary>
    private void Admit()
    {
        for (var node = _queue.First; node is not null && _slots.HasFree;)
        {
            var next = node.Next;
            var handle = node.Value;
            if (WaitsForASharedPrefix(handle.Request))
            {
                node = next;
                continue;
            }
            if (!_kv.TryReserve(handle.Request.TotalTokens, out int blocks)) break;
            _queue.Remove(node);
            node = next;
            int slot = -1;
            RunningSequence running;
            try
            {
                slot = _slots.Acquire(out var state);
                state.Adapter = handle.Request.Adapter;
                state.Reserve(handle.Request.TotalTokens);
                var stopIds = (handle.Request.EosTokenIds ?? (IEnumerable<int>)_defaultEos).Concat(handle.Request.StopTokenIds);
                running = new RunningSequence(handle, slot, state, blocks, stopIds);
                _prefix?.Attach(running);
            }
            catch (Exception e)
            {
                // No state for it (e.g. device memory ran out): this request fails, the scheduler goes on.
                if (slot >= 0) _slots.Release(slot);
                _kv.Release(blocks);
                handle.Fail(e);
                continue;
            }
            _running.Add(running);
            _occupiedSlots++;
            Metrics.PromptTokens(handle.Request.Prompt.Length);
        }
        PublishLoad();
    }

    /// <summary>
    /// Whether a queued request should wait for a running sequence still prefilling a prompt that shares more of its
    /// start than the cache holds now: that sequence leaves a cache point at the last grid point of the shared tokens
    /// (or at its prompt's end), and the request then resumes there instead of computing the same tokens beside it
    /// (32 conversations arriving together with one system prompt prefill it once). The wait ends when that sequence
    /// passes the point, ends or is cancelled, whether or not the point fitted the cache's budget.
    /// </summary>
    private bool WaitsForASharedPrefix(SequenceRequest request)
    {
        if (_prefix is null || request.PromptLogprobs) return false;
        int? cached = null; // the trie walk only once a running prefill shares enough to matter
        foreach (var s in _running)
        {
            if (!s.IsPrefilling || s.Request.Adapter != request.Adapter || s.Request.PromptLogprobs) continue;
            int shared = request.Prompt.AsSpan().CommonPrefixLength(s.Request.Prompt);
            int point = shared == s.Request.Prompt.Length ? shared : shared / Options.PrefillChunk * Options.PrefillChunk;
            point = Math.Min(point, request.Prompt.Length - 1); // a resumed request still feeds its last prompt token
            if (point <= s.Prefilled) continue;
            cached ??= _prefix.CachedLength(request.Adapter, request.Prompt);
            if (point > cached) return true;
        }
        return false;
    }

    private void RetireCancelled()
    {
        foreach (var s in _running)
            if (s.Handle.IsCancelled) s.Finish = SequenceFinish.Cancelled;
        RetireFinished();
    }

    private void RunStep()
    {
        var clock = Stopwatch.StartNew();
        var batch = StepPlan.Build(_running, Options.PrefillChunk, Options.MaxStepTokens);
        int vocab = _model.Tokens.VocabSize, generated = 0;
        try
        {
            var outcomes = batch.Run(_model);
            var now = DateTime.UtcNow;
            for (int i = 0; i < batch.Sequences.Count; i++)
            {
                var s = batch.Sequences[i];
                bool chunkEnded = s.IsPrefilling; // chunks end on the grid or at the prompt's end: a cache point
                var next = s.Advance(outcomes[i], batch.Inputs[i].Length, vocab);
                if (chunkEnded) _prefix?.Record(s);
                if (next is not { } token) continue;
                generated++;
                var (seconds, first) = s.SinceLastToken(now);
                (first ? Metrics.TimeToFirstToken : Metrics.InterTokenLatency).Observe(seconds);
                s.Handle.Emit(token);
            }
        }
        catch (Exception e)
        {
            // The model failed on this batch: end its sequences with the error and keep serving the others.
            foreach (var s in batch.Sequences) s.Handle.Fail(e);
            foreach (var s in batch.Sequences) s.Finish = SequenceFinish.Cancelled;
            RetireFinished(notify: false);
        }
        Metrics.Step(clock.Elapsed, generated);
        RetireFinished();
    }

    private void RetireFinished(bool notify = true)
    {
        bool any = false;
        for (int i = _running.Count - 1; i >= 0; i--)
        {
            var s = _running[i];
            if (s.Finish is not { } finish) continue;
            _running.RemoveAt(i);
            _prefix?.Detach(s, record: notify && finish != SequenceFinish.Cancelled);
            _slots.Release(s.Slot);
            lock (_gate)
            {
                _kv.Release(s.KvBlocks);
                _occupiedSlots--;
            }
            if (finish == SequenceFinish.Cancelled && notify) Metrics.Cancelled();
            if (notify) s.Handle.Finish(new SequenceResult(finish, s.Request.Prompt.Length, s.Generated, s.PromptScores));
            any = true;
        }
        if (any) lock (_gate) PublishLoad();
    }

    /// <summary>Called on the scheduler thread only (it owns the running list and the slots).</summary>
    private void PublishLoad()
    {
        Metrics.SetQueueLength(_queue.Count);
        Metrics.SetRunning(_running.Count, _kv.Used, _slots.Bytes());
    }

    private void Shutdown()
    {
        var error = new ObjectDisposedException(nameof(ContinuousBatchScheduler), "the scheduler was stopped");
        lock (_gate)
        {
            foreach (var h in _queue) h.Fail(error);
            _queue.Clear();
        }
        foreach (var s in _running)
        {
            s.Handle.Fail(error);
            _prefix?.Detach(s, record: false);
            _slots.Release(s.Slot);
            _kv.Release(s.KvBlocks);
        }
        _running.Clear();
        _prefix?.Clear();
        lock (_gate) PublishLoad();
    }
}
