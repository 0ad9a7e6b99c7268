using System;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using CalendarWatch.Engine;

namespace CalendarWatch
{
    /// <summary>
    /// The async bridge every CalendarWatch cmdlet that waits on something builds on: async work runs off the pipeline
    /// thread, and everything it asks of PowerShell (WriteObject, WriteVerbose, WriteWarning, WriteError, progress,
    /// ShouldProcess) is posted to the pipeline thread and done there, in order, while that thread waits. Work may
    /// post any number of outputs per input (a receiver streams them) and need not touch HTTP at all (a command that
    /// only reads a local record). Stop (Ctrl+C, or a downstream command such as Select-Object -First ending the
    /// pipeline) cancels <see cref="StopToken"/> at once, which ends in-flight HTTP.
    /// The bounded fan-out over many items is a separate piece (<see cref="CalendarApiCmdlet{TRequest, TResult}"/>
    /// composes it with this bridge); both share <see cref="Loop"/>.
    /// </summary>
    public abstract class AsyncPSCmdlet : PSCmdlet, IDisposable
    {
        private readonly CancellationTokenSource _stop = new CancellationTokenSource();
        private volatile bool _pipelineStopped;
        private bool _disposed;

        /// <summary>The pipeline thread's loop: what worker threads post runs here.</summary>
        protected CallerLoop Loop { get; } = new CallerLoop();

        /// <summary>Cancelled when the pipeline stops (Ctrl+C, Select-Object -First) or the command ends itself.</summary>
        protected CancellationToken StopToken => _stop.Token;

        /// <summary>
        /// True once PowerShell called StopProcessing: Write* calls then throw, so what must still reach the user goes
        /// straight to the host (<see cref="WarnEvenIfStopped"/>).
        /// </summary>
        protected bool PipelineStopped => _pipelineStopped;

        protected override void StopProcessing()
        {
            // Another thread, while the pipeline thread may be blocked in the loop: cancelling wakes it.
            _pipelineStopped = true;
            CancelWork();
        }

        /// <summary>Cancels <see cref="StopToken"/> (in-flight work ends) and wakes the pipeline thread. Thread-safe.</summary>
        protected void CancelWork()
        {
            try
            {
                _stop.Cancel();
            }
            catch (ObjectDisposedException)
            {
            }

            Loop.Wake();
        }

        /// <summary>
        /// Runs <paramref name="work"/> off the pipeline thread and, until it ends, does on this thread what it posts.
        /// Rethrows its failure. If something posted throws (a stop, -ErrorAction Stop, a failing downstream command),
        /// the work is cancelled and that exception ends the command.
        /// </summary>
        protected void RunWork(Func<CancellationToken, Task> work)
        {
            if (work is null) throw new ArgumentNullException(nameof(work));
            var token = StopToken;
            var task = Task.Run(() => work(token), token);
            try
            {
                Loop.RunUntil(task);
            }
            catch
            {
                CancelWork();
                throw;
            }

            task.GetAwaiter().GetResult();
        }

        /// <summary>Writes <paramref name="output"/> on the pipeline thread. Thread-safe.</summary>
        protected void PostObject(object? output) => Loop.Post(() => WriteObject(output));

        /// <summary>
        /// Writes a -Verbose line on the pipeline thread. Thread-safe. Dropped once the pipeline is stopping, so that a
        /// retry notice never throws into the loop that is reporting what was in flight.
        /// </summary>
        protected void PostVerbose(string message) => Loop.Post(() =>
        {
            if (_pipelineStopped) return;
            try
            {
                WriteVerbose(message);
            }
            catch (PipelineStoppedException)
            {
            }
        });

        /// <summary>Writes a warning on the pipeline thread (through the host once PowerShell stops the pipeline). Thread-safe.</summary>
        protected void PostWarning(string message) => Loop.Post(() => WarnEvenIfStopped(message));

        /// <summary>Writes a non-terminating error on the pipeline thread. Thread-safe.</summary>
        protected void PostError(ErrorRecord record) => Loop.Post(() => WriteError(record));

        /// <summary>Asks ShouldProcess on the pipeline thread; the task completes with the answer. Thread-safe.</summary>
        protected Task<bool> ShouldProcessAsync(string target, string action)
        {
            var answer = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            Loop.Post(() =>
            {
                try
                {
                    answer.TrySetResult(ShouldProcess(target, action));
                }
                catch (Exception ex)
                {
                    answer.TrySetException(ex);
                    throw;
                }
            });
            return answer.Task;
        }

        /// <summary>
        /// A warning that must reach the user even while the command is being stopped: through the warning stream
        /// (capturable with -WarningVariable, 3>) while PowerShell still accepts it, else straight to the host, which
        /// PowerShell allows while stopping. Never throws.
        /// </summary>
        protected void WarnEvenIfStopped(string line)
        {
            if (!_pipelineStopped)
            {
                try
                {
                    WriteWarning(line);
                    return;
                }
                catch (Exception ex) when (!(ex is OutOfMemoryException))
                {
                    // The pipeline no longer takes it: fall back to the host below.
                }
            }

            try
            {
                Host?.UI?.WriteWarningLine(line);
            }
            catch (Exception ex) when (!(ex is OutOfMemoryException))
            {
                // No host to tell (a runspace without UI): nothing more can be done.
            }
        }

        public void Dispose()
        {
            Dispose(true);
            GC.SuppressFinalize(this);
        }

        protected virtual void Dispose(bool disposing)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            if (disposing)
            {
                CancelWork();
                _stop.Dispose();
                Loop.Dispose();
            }
        }
    }
}
