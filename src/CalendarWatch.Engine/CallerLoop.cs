using System;
using System.Collections.Concurrent;
using System.Threading;
using System.Threading.Tasks;

namespace CalendarWatch.Engine
{
    /// <summary>
    /// Work handed to one caller thread (PowerShell's pipeline thread) by any other thread. Worker threads
    /// <see cref="Post"/> actions; the caller thread runs them inside <see cref="RunPosted"/>, and sleeps in
    /// <see cref="Wait"/> until something is posted or <see cref="Wake"/> is called. The async bridge
    /// (AsyncPSCmdlet) and the fan-out (<see cref="BoundedWorkQueue{TState, TResult}"/>) share one loop, so every
    /// Write* call of a command happens on its pipeline thread, in the order it was posted.
    /// </summary>
    public sealed class CallerLoop : IDisposable
    {
        private readonly ConcurrentQueue<Action> _posted = new ConcurrentQueue<Action>();
        private readonly SemaphoreSlim _signal = new SemaphoreSlim(0, int.MaxValue);
        private bool _disposed;

        /// <summary>Queues <paramref name="action"/> for the caller thread. Thread-safe.</summary>
        public void Post(Action action)
        {
            if (action is null) throw new ArgumentNullException(nameof(action));
            _posted.Enqueue(action);
            Wake();
        }

        /// <summary>Wakes the caller thread from <see cref="Wait"/> (a state it waits on changed). Thread-safe.</summary>
        public void Wake()
        {
            try
            {
                _signal.Release();
            }
            catch (ObjectDisposedException)
            {
            }
        }

        /// <summary>Caller thread: runs every posted action, in order. An action's exception propagates (the rest stay queued).</summary>
        public void RunPosted()
        {
            while (_posted.TryDequeue(out var action))
            {
                action();
            }
        }

        /// <summary>Caller thread: sleeps until woken, or for at most <paramref name="timeout"/> when given.</summary>
        public void Wait(TimeSpan? timeout = null)
        {
            if (_disposed) return;
            if (timeout is TimeSpan t) _signal.Wait(t);
            else _signal.Wait();
        }

        /// <summary>
        /// Caller thread: runs posted actions until <paramref name="task"/> has finished (woken by its completion),
        /// then the ones posted last. Does not observe the task's outcome.
        /// </summary>
        public void RunUntil(Task task)
        {
            if (task is null) throw new ArgumentNullException(nameof(task));
            if (!task.IsCompleted)
            {
                task.ContinueWith(static (_, s) => ((CallerLoop)s!).Wake(), this, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }

            while (true)
            {
                RunPosted();
                if (task.IsCompleted) break;
                Wait();
            }

            RunPosted();
        }

        public void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            _signal.Dispose();
        }
    }
}
