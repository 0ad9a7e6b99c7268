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
    /// A cmdlet that makes one Calendar API call per item, many at once: the async bridge (<see cref="AsyncPSCmdlet"/>)
    /// composed with the engine's bounded, ordered fan-out (<see cref="BoundedWorkQueue{TState, TResult}"/>). Per item:
    /// <list type="number">
    /// <item><see cref="BuildRequests"/>, on the pipeline thread: validation, ShouldProcess; null skips an item.</item>
    /// <item><see cref="ExecuteAsync"/>, off it: the engine call, returning a typed result.</item>
    /// <item><see cref="WriteResult"/>, on the pipeline thread again, in input order unless -Unordered.</item>
    /// </list>
    /// At most -ThrottleLimit items are in flight; input streams through (never collected). Each failure becomes one
    /// ErrorRecord (<see cref="ErrorRecords.ForFailure"/>) and the other items go on.
    /// A stop has one reason: PowerShell's (Ctrl+C or a downstream Select-Object -First) or the command's own (an error
    /// under -ErrorAction Stop, a downstream command that threw). Either way what is in flight is cancelled, and every
    /// item that needs the admin's attention — a result that arrived but can no longer be written, a request cut off in
    /// flight that Google may have carried out — is reported once, as a warning (capturable while PowerShell still
    /// takes warnings; through the host once PowerShell has stopped the pipeline).
    /// </summary>
    public abstract class CalendarApiCmdlet<TRequest, TResult> : AsyncPSCmdlet
        where TRequest : class
    {
        /// <summary>
        /// 8 requests in flight already reach Google's per-user quota (600 requests a minute = 10 a second) whenever
        /// one request takes under 0.8 s; more in flight for one identity only turns into rate-limit retries.
        /// </summary>
        public const int DefaultThrottleLimit = 8;

        /// <summary>The highest -ThrottleLimit: beyond it one identity meets rate limits, and sockets pile up.</summary>
        public const int MaxThrottleLimit = 64;

        private readonly Action<CompletedWork<TRequest, TResult>> _onReady;
        private BoundedWorkQueue<TRequest, TResult>? _queue;
        private ProgressReporter? _progress;
        private ResolvedConnection? _connection;
        private CalendarApiClient? _client;
        private ExceptionDispatchInfo? _stopReason;
        private long _notStarted;
        private Action<HttpExchange>? _debugSink;

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

        /// <summary>Hand this to the engine's onRetry: each retry becomes one -Verbose line on the pipeline thread.</summary>
        protected Action<RetryNotice> RetryReporter { get; }

        /// <summary>Writes a -Debug line on the pipeline thread (dropped once the pipeline is stopping). Thread-safe.</summary>
        private void PostDebug(string message) => Loop.Post(() =>
        {
            if (PipelineStopped) return;
            try
            {
                WriteDebug(message);
            }
            catch (PipelineStoppedException)
            {
            }
        });

        /// <summary>The Write-Progress activity, such as "Creating event watches".</summary>
        protected virtual string ProgressActivity => MyInvocation.MyCommand.Name;

        /// <summary>
        /// The number of items when known before the first one runs (an array given directly to the parameter that
        /// otherwise takes pipeline input); null when unknown. PowerShell does not tell a command how many objects are
        /// coming down the pipeline.
        /// </summary>
        protected virtual long? KnownItemCount => null;

        /// <summary>The connection given explicitly to this command (-Connection), if any.</summary>
        protected virtual CalendarConnection? ExplicitConnection => null;

        /// <summary>
        /// The requests of the current input item, built one at a time on the pipeline thread (so a long array is
        /// streamed too): validate, call ShouldProcess, write errors for bad input. Null entries are skipped items.
        /// </summary>
        protected abstract IEnumerable<TRequest?> BuildRequests();

        /// <summary>
        /// How many items the queue runs at once (default ThrottleLimit). A command whose work waits for a send slot of
        /// its own (at most ThrottleLimit requests in flight) may start more, so that the waiting ones are known ahead.
        /// </summary>
        protected virtual int QueueLimit => ThrottleLimit;

        /// <summary>
        /// Runs on the pipeline thread as an item starts, in input order, just before <see cref="ExecuteAsync"/> is
        /// scheduled: what must keep the input order (a place in a line) is taken here.
        /// </summary>
        protected virtual void OnStarting(TRequest request, CancellationToken cancellationToken)
        {
        }

        /// <summary>Runs one request off the pipeline thread.</summary>
        protected abstract Task<TResult> ExecuteAsync(CalendarApiClient client, TRequest request, CancellationToken cancellationToken);

        /// <summary>Writes one item's result, on the pipeline thread (WriteObject, -Verbose, warnings).</summary>
        protected abstract void WriteResult(TRequest request, TResult result);

        /// <summary>The object an item's error record names (the calendar id).</summary>
        protected abstract object? TargetOf(TRequest request);

        /// <summary>One -Verbose line saying what is about to be sent. Must never contain a token or key.</summary>
        protected abstract string DescribeRequest(TRequest request);

        /// <summary>The warning for a result that arrived but could not be written because the command stopped.</summary>
        protected abstract string DescribeUnwritten(TRequest request, TResult result);

        /// <summary>The warning for a request cut off in flight by a stop (the server may have carried it out).</summary>
        protected abstract string DescribeCancelledInFlight(TRequest request);

        /// <summary>The warning for an item that failed but whose error could not be written because the command stopped.</summary>
        protected abstract string DescribeFailedAfterStop(TRequest request, Exception exception);

        protected override void BeginProcessing()
        {
            // -Debug (or $DebugPreference): one line per HTTP exchange of this command, API and token requests alike.
            var debug = MyInvocation.BoundParameters.TryGetValue("Debug", out var flag) ? flag is SwitchParameter on && on.IsPresent
                : LanguagePrimitives.TryConvertTo(GetVariableValue("DebugPreference"), out ActionPreference preference) && preference != ActionPreference.SilentlyContinue;
            _debugSink = debug ? exchange => PostDebug(exchange.ToString()) : null;
            _queue = new BoundedWorkQueue<TRequest, TResult>(Math.Max(ThrottleLimit, QueueLimit), ordered: !Unordered.IsPresent, StopToken, Loop);
            _progress = new ProgressReporter(this, ProgressActivity, MyInvocation.ExpectingInput ? null : KnownItemCount);
        }

        protected override void ProcessRecord()
        {
            ThrowIfStopped();
            try
            {
                EnqueueRequests();
            }
            catch (Exception ex) when (!(ex is OutOfMemoryException) && _stopReason is null)
            {
                // Building an item ended the command (-ErrorAction Stop on a bad row, "Halt" at a -Confirm prompt, a
                // stop): what is in flight is handed out and reported before the command ends.
                Stop(ExceptionDispatchInfo.Capture(ex));
                ThrowIfStopped();
            }
        }

        private void EnqueueRequests()
        {
            var queue = _queue ?? throw new InvalidOperationException("BeginProcessing did not run: a subclass overriding it must call base.BeginProcessing().");
            foreach (var request in BuildRequests())
            {
                if (request is null)
                {
                    _progress!.ItemDone();
                    _progress.Report();
                    continue;
                }

                var client = GetClient();
                WriteVerbose(DescribeRequest(request));
                var sink = _debugSink;
                queue.Enqueue(request, token =>
                {
                    OnStarting(request, token);
                    return sink is null
                        ? Task.Run(() => ExecuteAsync(client, request, token), token)
                        : Task.Run(() => HttpTrace.RunAsync(sink, () => ExecuteAsync(client, request, token)), token);
                }, _onReady);
                ThrowIfStopped();
                _progress!.Report();
            }
        }

        protected override void EndProcessing()
        {
            ThrowIfStopped();
            _queue?.Complete(_onReady);
            ThrowIfStopped();
            _progress?.Finish();
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing && _queue != null && _queue.Completed < _queue.Enqueued)
            {
                // Ended without handing everything out (a stop while an upstream command ran): report it now, so that
                // no channel that was made or may have been made goes unnamed.
                try
                {
                    CancelWork();
                    _queue.Complete(_onReady);
                }
                catch (Exception ex) when (!(ex is OutOfMemoryException))
                {
                    WarnEvenIfStopped("Some requests could not be reported when the command ended: " + ex.Message);
                }
            }

            if (disposing)
            {
                _queue?.Dispose();
                _connection?.Dispose();
            }

            base.Dispose(disposing);
        }

        private bool IsStopping => _stopReason != null || PipelineStopped || StopToken.IsCancellationRequested;

        /// <summary>Each item the queue hands out, on the pipeline thread.</summary>
        private void OnReady(CompletedWork<TRequest, TResult> work)
        {
            _progress!.ItemDone();
            if (IsStopping)
            {
                ReportAfterStop(work);
                return;
            }

            try
            {
                if (work.IsSuccess)
                {
                    WriteResult(work.State, work.Result);
                }
                else
                {
                    WriteError(ErrorRecords.ForFailure(work.Exception, TargetOf(work.State)));
                }
            }
            catch (PipelineStoppedException ex)
            {
                Stop(ExceptionDispatchInfo.Capture(ex));
                // Three cases throw this. A downstream Select-Object -First (a subclass) took the object, then ended the
                // pipeline. WriteError under -ErrorAction Stop recorded the error as the command's terminating error
                // and throws a plain one while PowerShell is not stopping: the item is reported, once. A stop (Ctrl+C)
                // refuses the write before it happens, with PowerShell stopping: the item still needs reporting.
                if (ex.GetType() == typeof(PipelineStoppedException) && (work.IsSuccess || Stopping))
                {
                    ReportAfterStop(work);
                }

                return;
            }
            catch (Exception ex) when (!(ex is OutOfMemoryException))
            {
                // -ErrorAction Stop turned this item's error into the command's end (it is reported once, by
                // PowerShell), or a downstream command threw. Cancel what is in flight; it is reported as it comes.
                Stop(ExceptionDispatchInfo.Capture(ex));
                return;
            }

            _progress.Report();
        }

        /// <summary>After a stop nothing more goes to the output: one warning per item that needs the admin's attention.</summary>
        private void ReportAfterStop(CompletedWork<TRequest, TResult> work)
        {
            if (!work.WasStarted)
            {
                _notStarted++;
                return;
            }

            if (work.IsSuccess)
            {
                WarnEvenIfStopped(DescribeUnwritten(work.State, work.Result));
            }
            else if (work.IsCancelled || work.Exception is OperationCanceledException)
            {
                WarnEvenIfStopped(DescribeCancelledInFlight(work.State));
            }
            else
            {
                WarnEvenIfStopped(DescribeFailedAfterStop(work.State, work.Exception!));
            }
        }

        private void Stop(ExceptionDispatchInfo reason)
        {
            _stopReason ??= reason;
            CancelWork(); // the queue then hands out the rest: finished ones, and in-flight ones as cancelled
        }

        /// <summary>Once stopped: hand out what is left, say what was not started, then end the command with the reason.</summary>
        private void ThrowIfStopped()
        {
            if (!IsStopping)
            {
                return;
            }

            if (_queue != null && !PipelineStopped)
            {
                // The command stopped itself: hand out (and so report) everything still in flight before ending.
                _queue.Complete(_onReady);
            }

            if (_notStarted > 0)
            {
                WarnEvenIfStopped(StopReport.NotStarted(_notStarted));
                _notStarted = 0;
            }

            _stopReason?.Throw();
            throw new PipelineStoppedException();
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
    }
}
