using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;

namespace CalendarWatch.Engine
{
    /// <summary>
    /// Thrown by an item's work when a cancel reached it before it did anything (e.g. while it waited for a slot of its
    /// own): the queue then hands the item out as not started (<see cref="CompletedWork{TState, TResult}.WasStarted"/>
    /// false), not as cut off in flight.
    /// </summary>
    public sealed class WorkNotStartedException : OperationCanceledException
    {
        public WorkNotStartedException(CancellationToken cancellationToken)
            : base("The operation was stopped before this item was sent; nothing was sent for it.", cancellationToken)
        {
        }
    }

    /// <summary>What became of one item given to <see cref="BoundedWorkQueue{TState, TResult}"/>.</summary>
    public sealed class CompletedWork<TState, TResult>
    {
        internal CompletedWork(long sequence, TState state, TResult result, Exception? exception, bool isCancelled, bool wasStarted)
        {
            Sequence = sequence;
            State = state;
            Result = result;
            Exception = exception;
            IsCancelled = isCancelled;
            WasStarted = wasStarted;
        }

        /// <summary>The item's position in the input (0 = the first item enqueued).</summary>
        public long Sequence { get; }

        /// <summary>What the caller passed with the item (e.g. the request: channel id and calendar).</summary>
        public TState State { get; }

        /// <summary>The work's result when <see cref="IsSuccess"/>; default otherwise.</summary>
        public TResult Result { get; }

        /// <summary>Why the item failed; an <see cref="OperationCanceledException"/> when it was cancelled.</summary>
        public Exception? Exception { get; }

        /// <summary>
        /// True when the queue was cancelled before the item finished. When <see cref="WasStarted"/> is also true the
        /// request was in flight and the server may have carried it out (a channel may exist).
        /// </summary>
        public bool IsCancelled { get; }

        /// <summary>False when the queue was already cancelled when the item arrived: nothing was sent for it.</summary>
        public bool WasStarted { get; }

        public bool IsSuccess => Exception is null && !IsCancelled;
    }

    /// <summary>
    /// Runs asynchronous work for a stream of items with at most <see cref="ThrottleLimit"/> in flight, driven by one
    /// caller thread (the PowerShell pipeline thread) through blocking calls: <see cref="Enqueue"/> starts an item,
    /// waiting while the limit is reached; <see cref="Complete"/> waits for the rest. Every callback (results and
    /// <see cref="Post"/>ed actions) runs on that caller thread, inside those calls. Results come in input order
    /// unless the queue is unordered. Input is never collected: the queue holds only the items started and not yet
    /// handed out (at most <see cref="MaxPending"/>), so memory stays flat however long the stream.
    /// <see cref="Cancel"/> (from any thread, e.g. StopProcessing) cancels the work's token; the blocked call then
    /// returns within <see cref="CancelGrace"/> (and well within a second), handing out every finished result and
    /// reporting every item still in flight as cancelled, with its state.
    /// Enqueue, Complete and Dispose belong to the caller thread; Cancel, Post and the counters are thread-safe.
    /// </summary>
    public sealed class BoundedWorkQueue<TState, TResult> : IDisposable
    {
        private readonly CancellationTokenSource _cts;
        private readonly CancellationTokenRegistration _externalRegistration;
        private readonly CancellationTokenRegistration _signalRegistration;
        private readonly CallerLoop _loop;
        private readonly bool _ownsLoop;
        private readonly ConcurrentQueue<Entry> _finished = new ConcurrentQueue<Entry>();
        private readonly LinkedList<Entry> _pending = new LinkedList<Entry>();
        private readonly Action<Task<TResult>, object?> _onDone;
        private int _inFlight;
        private long _enqueued;
        private long _started;
        private long _completed;
        private long _succeeded;
        private long _failed;
        private long _cancelled;
        private bool _disposed;

        /// <param name="throttleLimit">The most items in flight at once (1 or more).</param>
        /// <param name="ordered">True: results in input order; false: as they finish.</param>
        /// <param name="cancellationToken">An outside token that cancels the queue too (optional).</param>
        /// <param name="loop">The caller thread's loop, shared with the async bridge; null = a loop of the queue's own.</param>
        public BoundedWorkQueue(int throttleLimit, bool ordered = true, CancellationToken cancellationToken = default, CallerLoop? loop = null)
        {
            _loop = loop ?? new CallerLoop();
            _ownsLoop = loop is null;
            if (throttleLimit < 1) throw new ArgumentOutOfRangeException(nameof(throttleLimit), throttleLimit, "ThrottleLimit must be 1 or more.");
            ThrottleLimit = throttleLimit;
            Ordered = ordered;
            MaxPending = Math.Max(256, throttleLimit * 64);
            _cts = new CancellationTokenSource();
            if (cancellationToken.CanBeCanceled)
            {
                _externalRegistration = cancellationToken.Register(static s => ((BoundedWorkQueue<TState, TResult>)s!).Cancel(), this);
            }

            _signalRegistration = _cts.Token.Register(static s => ((BoundedWorkQueue<TState, TResult>)s!).Wake(), this);
            _onDone = OnDone;
        }

        public int ThrottleLimit { get; }

        public bool Ordered { get; }

        /// <summary>
        /// The most items started and not yet handed out (in flight, or finished and waiting for an earlier item).
        /// Bounds memory when one early item is slow; default max(256, 64 × ThrottleLimit).
        /// </summary>
        public int MaxPending { get; set; }

        /// <summary>How long a cancelled call waits for in-flight work to wind down before reporting it as cancelled.</summary>
        public TimeSpan CancelGrace { get; set; } = TimeSpan.FromMilliseconds(500);

        /// <summary>The token every item's work receives; cancelled by <see cref="Cancel"/>.</summary>
        public CancellationToken Token => _cts.Token;

        public bool IsCancellationRequested => _cts.IsCancellationRequested;

        /// <summary>Items given to Enqueue.</summary>
        public long Enqueued => Interlocked.Read(ref _enqueued);

        /// <summary>Items whose work was started.</summary>
        public long Started => Interlocked.Read(ref _started);

        /// <summary>Items handed out to onReady (succeeded + failed + cancelled).</summary>
        public long Completed => Interlocked.Read(ref _completed);

        public long Succeeded => Interlocked.Read(ref _succeeded);

        public long Failed => Interlocked.Read(ref _failed);

        public long Cancelled => Interlocked.Read(ref _cancelled);

        /// <summary>Items whose work is running now.</summary>
        public int InFlight => Volatile.Read(ref _inFlight);

        /// <summary>Cancels every item's token; the caller's blocked Enqueue/Complete then returns promptly. Thread-safe.</summary>
        public void Cancel()
        {
            try
            {
                _cts.Cancel();
            }
            catch (ObjectDisposedException)
            {
            }
        }

        /// <summary>
        /// Queues an action to run on the caller thread during its next (or current) Enqueue/Complete call, before
        /// results that are handed out after it. Thread-safe: use it for -Verbose text from worker threads.
        /// </summary>
        public void Post(Action action) => _loop.Post(action);

        /// <summary>
        /// Starts <paramref name="work"/> for one item once fewer than ThrottleLimit are in flight, blocking until then;
        /// meanwhile hands every ready result to <paramref name="onReady"/> on this thread. After a cancel the item is
        /// not started: it is handed out at once as cancelled with <see cref="CompletedWork{TState, TResult}.WasStarted"/> false.
        /// </summary>
        public void Enqueue(TState state, Func<CancellationToken, Task<TResult>> work, Action<CompletedWork<TState, TResult>> onReady)
        {
            if (work is null) throw new ArgumentNullException(nameof(work));
            if (onReady is null) throw new ArgumentNullException(nameof(onReady));
            ThrowIfDisposed();
            var sequence = Interlocked.Increment(ref _enqueued) - 1;
            Pump(onReady, () => Volatile.Read(ref _inFlight) >= ThrottleLimit || _pending.Count >= MaxPending);
            if (_cts.IsCancellationRequested)
            {
                Flush(onReady); // earlier items first, so the output keeps the input order
                Hand(onReady, new CompletedWork<TState, TResult>(sequence, state, default!, new OperationCanceledException("The operation was stopped before this item was started; nothing was sent for it."), isCancelled: true, wasStarted: false));
                return;
            }

            var entry = new Entry(sequence, state);
            entry.Node = _pending.AddLast(entry);
            Interlocked.Increment(ref _inFlight);
            Interlocked.Increment(ref _started);
            Task<TResult> task;
            try
            {
                task = work(_cts.Token) ?? Task.FromException<TResult>(new InvalidOperationException("The work returned no task."));
            }
            catch (Exception ex)
            {
                task = Task.FromException<TResult>(ex);
            }

            entry.Task = task;
            task.ContinueWith(_onDone, entry, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

            // Hand out whatever is ready now, so results flow while the input is still streaming in.
            Pump(onReady, static () => false);
        }

        /// <summary>Waits for every started item and hands each to <paramref name="onReady"/> on this thread.</summary>
        public void Complete(Action<CompletedWork<TState, TResult>> onReady)
        {
            if (onReady is null) throw new ArgumentNullException(nameof(onReady));
            ThrowIfDisposed();
            Pump(onReady, () => _pending.Count > 0);
            RunPosted();
        }

        /// <summary>Cancels whatever is still running (nothing is handed out any more) and releases the queue.</summary>
        public void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            Cancel();
            _externalRegistration.Dispose();
            _signalRegistration.Dispose();
            _cts.Dispose();
            if (_ownsLoop) _loop.Dispose();
        }

        private void Pump(Action<CompletedWork<TState, TResult>> onReady, Func<bool> mustWait)
        {
            while (true)
            {
                RunPosted();
                if (_cts.IsCancellationRequested)
                {
                    Flush(onReady);
                    return;
                }

                Deliver(onReady);
                if (!mustWait())
                {
                    return;
                }

                _loop.Wait();
            }
        }

        /// <summary>Hands out what is ready: the finished head run (ordered) or every finished item (unordered).</summary>
        private void Deliver(Action<CompletedWork<TState, TResult>> onReady)
        {
            if (Ordered)
            {
                while (_pending.First is { } node && node.Value.Done)
                {
                    _pending.RemoveFirst();
                    Hand(onReady, Outcome(node.Value));
                }
            }
            else
            {
                while (_finished.TryDequeue(out var entry))
                {
                    if (entry.Node?.List is null) continue;
                    _pending.Remove(entry.Node);
                    Hand(onReady, Outcome(entry));
                }
            }
        }

        /// <summary>After a cancel: let in-flight work wind down for CancelGrace, then hand out everything in input order.</summary>
        private void Flush(Action<CompletedWork<TState, TResult>> onReady)
        {
            var clock = Stopwatch.StartNew();
            while (AnyRunning() && clock.Elapsed < CancelGrace)
            {
                RunPosted();
                if (!Ordered) Deliver(onReady);
                var left = CancelGrace - clock.Elapsed;
                if (left > TimeSpan.Zero) _loop.Wait(left);
            }

            RunPosted();
            while (_pending.First is { } node)
            {
                _pending.RemoveFirst();
                var entry = node.Value;
                Hand(onReady, entry.Done
                    ? Outcome(entry)
                    : new CompletedWork<TState, TResult>(entry.Sequence, entry.State, default!, new OperationCanceledException("The operation was stopped while this item was in flight; the server may have carried it out."), isCancelled: true, wasStarted: true));
            }
        }

        private bool AnyRunning()
        {
            foreach (var entry in _pending)
            {
                if (!entry.Done) return true;
            }

            return false;
        }

        private CompletedWork<TState, TResult> Outcome(Entry entry)
        {
            var task = entry.Task!;
            if (task.Status == TaskStatus.RanToCompletion)
            {
                return new CompletedWork<TState, TResult>(entry.Sequence, entry.State, task.Result, null, isCancelled: false, wasStarted: true);
            }

            var exception = task.IsCanceled ? CancellationOf(task) : Unwrap(task.Exception!);
            if (exception is WorkNotStartedException)
            {
                return new CompletedWork<TState, TResult>(entry.Sequence, entry.State, default!, exception, isCancelled: true, wasStarted: false);
            }

            var cancelled = exception is OperationCanceledException && _cts.IsCancellationRequested;
            return new CompletedWork<TState, TResult>(entry.Sequence, entry.State, default!, exception, cancelled, wasStarted: true);
        }

        /// <summary>A cancelled task's own exception when it is a <see cref="WorkNotStartedException"/>; otherwise the in-flight one.</summary>
        private static Exception CancellationOf(Task<TResult> task)
        {
            try
            {
                task.GetAwaiter().GetResult();
            }
            catch (WorkNotStartedException notStarted)
            {
                return notStarted;
            }
            catch (OperationCanceledException)
            {
            }

            return new OperationCanceledException("The operation was stopped while this item was in flight; the server may have carried it out.");
        }

        private void Hand(Action<CompletedWork<TState, TResult>> onReady, CompletedWork<TState, TResult> outcome)
        {
            Interlocked.Increment(ref _completed);
            if (outcome.IsCancelled) Interlocked.Increment(ref _cancelled);
            else if (outcome.Exception != null) Interlocked.Increment(ref _failed);
            else Interlocked.Increment(ref _succeeded);
            onReady(outcome);
        }

        private void RunPosted() => _loop.RunPosted();

        private void OnDone(Task<TResult> task, object? state)
        {
            var entry = (Entry)state!;
            _ = task.Exception; // observed here, also for items abandoned after a cancel
            entry.Done = true;
            Interlocked.Decrement(ref _inFlight);
            if (!Ordered) _finished.Enqueue(entry);
            Wake();
        }

        private void Wake() => _loop.Wake();

        private void ThrowIfDisposed()
        {
            if (_disposed) throw new ObjectDisposedException(nameof(BoundedWorkQueue<TState, TResult>));
        }

        private static Exception Unwrap(AggregateException aggregate) =>
            aggregate.InnerExceptions.Count == 1 ? aggregate.InnerExceptions[0] : aggregate;

        private sealed class Entry
        {
            private volatile bool _done;

            public Entry(long sequence, TState state)
            {
                Sequence = sequence;
                State = state;
            }

            public long Sequence { get; }

            public TState State { get; }

            public Task<TResult>? Task { get; set; }

            public LinkedListNode<Entry>? Node { get; set; }

            public bool Done
            {
                get => _done;
                set => _done = value;
            }
        }
    }
}
