using System;
using System.Collections.Generic;
using System.Management.Automation;
using System.Runtime.ExceptionServices;
using System.Threading;
using System.Threading.Tasks;
using CalendarWatch.Engine;

namespace CalendarWatch
{
    /// <summary>
    /// The bridge between PowerShell's pipeline thread and the engine's async calls, for every cmdlet that talks to
    /// the Calendar API. Subclasses provide two steps per input item:
    /// <list type="number">
    /// <item><see cref="BuildRequest"/> runs on the pipeline thread: validation, ShouldProcess; null skips the item.</item>
    /// <item><see cref="ExecuteAsync"/> runs on the thread pool: the engine call; it returns the object to write.</item>
    /// </list>
    /// The base resolves the connection (lazily, so -WhatIf needs none) and runs the items through the engine's
    /// <see cref="BoundedWorkQueue{TState, TResult}"/>: at most -ThrottleLimit in flight, input streamed (never
    /// collected), output in input order unless -Unordered. Each <see cref="CalendarWatchException"/> becomes one
    /// ErrorRecord so the other items go on. Every Write* call happens on the pipeline thread: the queue hands out
    /// results there, and work running off it posts messages through <see cref="PostVerbose"/> (the queue runs them
    /// on the pipeline thread while it waits); pass <see cref="RetryReporter"/> to the engine so -Verbose says each retry.
    /// Progress: Write-Progress with "N of TOTAL" when the subclass knows the count up front (<see cref="KnownItemCount"/>),
    /// else "N done", at most every 200 ms, skipped when $ProgressPreference is SilentlyContinue or Ignore.
    /// Stop (Ctrl+C, or a downstream command ending the pipeline): the queue is cancelled, in-flight HTTP stops at once
    /// (the queue returns within a second), and since PowerShell refuses Write* calls after a stop, whatever the queue
    /// hands out then is reported one line per item through the host: results that arrived but were not written
    /// (<see cref="DescribeUnwritten"/>) and requests cut off in flight (<see cref="DescribeCancelledInFlight"/>).
    /// </summary>
    /// <typeparam name="TRequest">The engine request one input item becomes.</typeparam>
    public abstract class CalendarApiCmdlet<TRequest> : PSCmdlet, IDisposable
        where TRequest : class
    {
        /// <summary>
        /// 8 requests in flight already reach Google's per-user quota (600 requests a minute = 10 a second) whenever
        /// one request takes under 0.8 s; more in flight for one identity only turns into rate-limit retries.
        /// </summary>
        public const int DefaultThrottleLimit = 8;

        /// <summary>The highest -ThrottleLimit: beyond it one identity meets rate limits, and sockets pile up.</summary>
        public const int MaxThrottleLimit = 64;

        private const int ProgressActivityIdBase = 0x4357_0000; // "CW"

        private readonly CancellationTokenSource _stop = new CancellationTokenSource();
        private readonly Action<CompletedWork<TRequest, object?>> _onReady;
        private BoundedWorkQueue<TRequest, object?>? _queue;
        private ProgressCounter? _progress;
        private ResolvedConnection? _connection;
        private CalendarApiClient? _client;
        private bool _showProgress;
        private bool _progressShown;
        private bool _stopping;
        private volatile bool _pipelineStopped;
        private ExceptionDispatchInfo? _stopReason;
        private long _notStarted;
        private bool _disposed;

        protected CalendarApiCmdlet()
        {
            _onReady = OnReady;
            RetryReporter = notice => PostVerbose(notice.Message);
        }

        [Parameter(HelpMessage = "The most requests in flight at once (1-64, default 8). 8 already reach Google's 600 requests/minute per-user quota when a request takes under 0.8 s; more only turns into rate-limit retries for one identity.")]
        [ValidateRange(1, MaxThrottleLimit)]
        public int ThrottleLimit { get; set; } = DefaultThrottleLimit;

        [Parameter(HelpMessage = "Write results as they complete instead of in input order.")]
        public SwitchParameter Unordered { get; set; }

        /// <summary>Cancelled when the pipeline stops (Ctrl+C, Select-Object -First).</summary>
        protected CancellationToken StopToken => _stop.Token;

        /// <summary>Hand this to the engine's onRetry: each retry becomes one -Verbose line on the pipeline thread.</summary>
        protected Action<RetryNotice> RetryReporter { get; }

        /// <summary>The Write-Progress activity, such as "Creating event watches".</summary>
        protected virtual string ProgressActivity => MyInvocation.MyCommand.Name;

        /// <summary>
        /// The number of items when known before the first one runs (an array given directly to the parameter that
        /// otherwise takes pipeline input); null when unknown. Read in BeginProcessing, and only when no pipeline
        /// input is expected: PowerShell does not tell a command how many objects are coming down the pipeline.
        /// </summary>
        protected virtual long? KnownItemCount => null;

        /// <summary>
        /// Turns the current input item into a request, on the pipeline thread: validate, call ShouldProcess, write
        /// errors for bad input. Return null to skip the item (declined, -WhatIf or invalid).
        /// </summary>
        protected abstract TRequest? BuildRequest();

        /// <summary>
        /// The requests of the current input item, built one at a time (so a long array is streamed too); null
        /// entries are skipped items. Default: one, from <see cref="BuildRequest"/>.
        /// </summary>
        protected virtual IEnumerable<TRequest?> BuildRequests()
        {
            yield return BuildRequest();
        }

        /// <summary>Runs one request off the pipeline thread; returns the object to write (null writes nothing).</summary>
        protected abstract Task<object?> ExecuteAsync(CalendarApiClient client, TRequest request, CancellationToken cancellationToken);

        /// <summary>The object an item's error record names (the calendar id).</summary>
        protected abstract object? TargetOf(TRequest request);

        /// <summary>One -Verbose line saying what is about to be sent. Must never contain a token or key.</summary>
        protected abstract string DescribeRequest(TRequest request);

        /// <summary>One -Verbose line after success; null writes none.</summary>
        protected virtual string? DescribeResult(TRequest request, object? result) => null;

        /// <summary>The line written through the host for a result that arrived but could not be written after a stop.</summary>
        protected virtual string DescribeUnwritten(TRequest request, object? result) =>
            $"The request for '{TargetOf(request)}' completed but its result was not written because the command was stopped.";

        /// <summary>The line written through the host for a request cancelled in flight by a stop.</summary>
        protected virtual string DescribeCancelledInFlight(TRequest request) =>
            $"The request for '{TargetOf(request)}' was cancelled in flight; the server may have carried it out.";

        /// <summary>The line written through the host for a request that failed but whose error could not be written after a stop.</summary>
        protected virtual string DescribeFailedAfterStop(TRequest request, Exception exception) =>
            $"The request for '{TargetOf(request)}' failed before the command was stopped: {exception.Message}";

        /// <summary>The connection given explicitly to this command (-Connection), if any.</summary>
        protected virtual CalendarConnection? ExplicitConnection => null;

        protected override void BeginProcessing()
        {
            _queue = new BoundedWorkQueue<TRequest, object?>(ThrottleLimit, ordered: !Unordered.IsPresent, _stop.Token);
            _progress = new ProgressCounter(MyInvocation.ExpectingInput ? null : KnownItemCount);
            _showProgress = ProgressWanted();
        }

        protected override void ProcessRecord()
        {
            ThrowIfStopped();
            var queue = _queue ?? throw new InvalidOperationException("BeginProcessing did not run: a subclass overriding it must call base.BeginProcessing().");
            foreach (var request in BuildRequests())
            {
                if (request is null)
                {
                    _progress!.Add();
                    ReportProgress(final: false);
                    continue;
                }

                var client = GetClient();
                WriteVerbose(DescribeRequest(request));
                queue.Enqueue(request, token => Task.Run(() => ExecuteAsync(client, request, token)), _onReady);
                ThrowIfStopped();
                ReportProgress(final: false);
            }
        }

        protected override void EndProcessing()
        {
            ThrowIfStopped();
            _queue?.Complete(_onReady);
            ThrowIfStopped();
            ReportProgress(final: true);
        }

        protected override void StopProcessing()
        {
            // Another thread, while the pipeline thread may be blocked in the queue: cancelling wakes it, and it
            // reports what it can no longer write (see OnReady).
            _pipelineStopped = true;
            try
            {
                _stop.Cancel();
            }
            catch (ObjectDisposedException)
            {
            }
        }

        /// <summary>Queues a -Verbose line from any thread; it is written on the pipeline thread.</summary>
        protected void PostVerbose(string message) => Post(() => WriteVerbose(message));

        /// <summary>Queues a warning from any thread; it is written on the pipeline thread.</summary>
        protected void PostWarning(string message) => Post(() => WriteWarning(message));

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
                _queue?.Dispose();
                _stop.Cancel();
                _stop.Dispose();
                _connection?.Dispose();
            }
        }

        /// <summary>Each item the queue hands out, on the pipeline thread.</summary>
        private void OnReady(CompletedWork<TRequest, object?> work)
        {
            _progress!.Add();
            if (_stopping || _stop.IsCancellationRequested)
            {
                _stopping = true;
                ReportAfterStop(work);
                return;
            }

            try
            {
                WriteOutcome(work);
            }
            catch (PipelineStoppedException ex)
            {
                EnterStopped(ExceptionDispatchInfo.Capture(ex));
                // A plain stop (Ctrl+C) refuses the write before it happens; a downstream Select-Object -First
                // (a subclass) took the object and then ended the pipeline.
                if (ex.GetType() == typeof(PipelineStoppedException))
                {
                    ReportAfterStop(work);
                }

                return;
            }
            catch (Exception ex) when (!(ex is OutOfMemoryException))
            {
                // -ErrorAction Stop, or a downstream command that threw: cancel what is in flight, report it, rethrow.
                EnterStopped(ExceptionDispatchInfo.Capture(ex));
                return;
            }

            ReportProgress(final: false);
        }

        private void WriteOutcome(CompletedWork<TRequest, object?> work)
        {
            if (work.IsSuccess)
            {
                var line = DescribeResult(work.State, work.Result);
                if (line != null)
                {
                    WriteVerbose(line);
                }

                if (work.Result != null)
                {
                    WriteObject(work.Result);
                }

                return;
            }

            var exception = work.Exception;
            if (exception is OperationCanceledException)
            {
                // Not our stop (that is handled before): a cancellation from inside the item.
                exception = new CalendarWatchException("CalendarWatch.OperationCanceled", FailureKind.OperationStopped, "The operation was cancelled before it finished.", exception);
            }

            var target = TargetOf(work.State);
            switch (exception)
            {
                case CalendarWatchException calendarError:
                    WriteError(ErrorRecords.From(calendarError, target));
                    break;
                case ArgumentException argumentError:
                    WriteError(ErrorRecords.InvalidArgument("CalendarWatch.InvalidArgument", argumentError, target));
                    break;
                default:
                    // A bug or an environment failure in one item: report it against the item and go on with the rest.
                    WriteError(new ErrorRecord(exception ?? new InvalidOperationException("The operation failed without an exception."), "CalendarWatch.UnexpectedError", ErrorCategory.NotSpecified, target));
                    break;
            }
        }

        /// <summary>After a stop nothing can go to the pipeline: one host line per item that needs the admin's attention.</summary>
        private void ReportAfterStop(CompletedWork<TRequest, object?> work)
        {
            if (!work.WasStarted)
            {
                _notStarted++;
                return;
            }

            string line;
            if (work.IsSuccess)
            {
                if (work.Result is null)
                {
                    return;
                }

                line = DescribeUnwritten(work.State, work.Result);
            }
            else if (work.IsCancelled || work.Exception is OperationCanceledException)
            {
                line = DescribeCancelledInFlight(work.State);
            }
            else
            {
                line = DescribeFailedAfterStop(work.State, work.Exception!);
            }

            StopWarning(line);
        }

        /// <summary>
        /// A warning that must reach the user during a stop. After StopProcessing WriteWarning throws, so it goes
        /// straight to the host (which PowerShell allows while stopping); otherwise through WriteWarning, so it can
        /// be redirected. Failures are ignored: the command is ending anyway.
        /// </summary>
        private void StopWarning(string line)
        {
            if (!_pipelineStopped && !(_stopReason?.SourceException is PipelineStoppedException))
            {
                try
                {
                    WriteWarning(line);
                    return;
                }
                catch (Exception ex) when (!(ex is OutOfMemoryException))
                {
                    // Fall back to the host below.
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

        private void EnterStopped(ExceptionDispatchInfo reason)
        {
            _stopping = true;
            _stopReason ??= reason;
            try
            {
                _stop.Cancel(); // the queue then hands out the rest as cancelled, each reported by ReportAfterStop
            }
            catch (ObjectDisposedException)
            {
            }
        }

        /// <summary>Once stopped: say what was not started, then end the command with the reason.</summary>
        private void ThrowIfStopped()
        {
            if (!_stopping && !_stop.IsCancellationRequested)
            {
                return;
            }

            _stopping = true;
            if (_notStarted > 0)
            {
                StopWarning(StopReport.NotStarted(_notStarted));
                _notStarted = 0;
            }

            _stopReason?.Throw();
            throw new PipelineStoppedException();
        }

        private void ReportProgress(bool final)
        {
            if (!_showProgress || _stopping || _progress is null)
            {
                return;
            }

            if (final ? !_progressShown : !_progress.TryReport())
            {
                return;
            }

            var record = new ProgressRecord(ProgressActivityIdBase + Math.Max(0, MyInvocation.PipelinePosition), ProgressActivity, _progress.StatusText)
            {
                PercentComplete = _progress.PercentComplete,
                RecordType = final ? ProgressRecordType.Completed : ProgressRecordType.Processing,
            };
            try
            {
                WriteProgress(record);
                _progressShown = true;
            }
            catch (PipelineStoppedException ex)
            {
                EnterStopped(ExceptionDispatchInfo.Capture(ex));
            }
        }

        /// <summary>False when $ProgressPreference is SilentlyContinue or Ignore: then no record is even built.</summary>
        private bool ProgressWanted()
        {
            var value = GetVariableValue("ProgressPreference");
            if (value is ActionPreference preference)
            {
                return preference != ActionPreference.SilentlyContinue && preference != ActionPreference.Ignore;
            }

            var text = value?.ToString();
            if (!string.IsNullOrEmpty(text) && Enum.TryParse<ActionPreference>(text, ignoreCase: true, out var parsed))
            {
                return parsed != ActionPreference.SilentlyContinue && parsed != ActionPreference.Ignore;
            }

            return true;
        }

        private CalendarApiClient GetClient()
        {
            if (_client is null)
            {
                try
                {
                    _connection = ConnectionResolver.Resolve(ExplicitConnection);
                }
                catch (CalendarWatchException ex)
                {
                    ThrowTerminatingError(ErrorRecords.From(ex, null));
                }
                catch (ArgumentException ex)
                {
                    // A malformed CALENDARWATCH_EMULATOR_HOST.
                    ThrowTerminatingError(ErrorRecords.InvalidArgument("CalendarWatch.InvalidEmulatorHost", ex, CalendarConnection.EmulatorHostVariable));
                }

                if (_connection!.Note != null)
                {
                    WriteVerbose(_connection.Note);
                }

                _client = new CalendarApiClient(_connection.Connection);
                WriteVerbose($"Using the {_connection.Source} connection: {_connection.Connection}.");
            }

            return _client;
        }

        /// <summary>Runs <paramref name="write"/> on the pipeline thread (via the queue); dropped once the command stops.</summary>
        private void Post(Action write)
        {
            var queue = _queue;
            if (queue is null || _disposed)
            {
                return;
            }

            queue.Post(() =>
            {
                if (_stopping || _stop.IsCancellationRequested)
                {
                    return;
                }

                try
                {
                    write();
                }
                catch (Exception ex) when (!(ex is OutOfMemoryException))
                {
                    EnterStopped(ExceptionDispatchInfo.Capture(ex));
                }
            });
        }
    }
}
