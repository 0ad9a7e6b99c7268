using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Management.Automation;
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
    /// The base resolves the connection (lazily, so -WhatIf needs none), runs the items, writes results and turns each
    /// <see cref="CalendarWatchException"/> into one ErrorRecord so the other items go on. Every Write* call happens on
    /// the pipeline thread; work running off it posts messages through <see cref="PostVerbose"/>, which the pipeline
    /// thread pumps while it waits. StopProcessing (Ctrl+C) cancels the token handed to ExecuteAsync, so in-flight HTTP
    /// stops at once.
    /// Items are held in an ordered in-flight queue of at most <see cref="MaxInFlight"/> (1 today: sequential); bounded
    /// concurrency with ordered output (-ThrottleLimit) only needs to raise that limit here.
    /// </summary>
    /// <typeparam name="TRequest">The engine request one input item becomes.</typeparam>
    public abstract class CalendarApiCmdlet<TRequest> : PSCmdlet, IDisposable
        where TRequest : class
    {
        private readonly CancellationTokenSource _stop = new CancellationTokenSource();
        private readonly BlockingCollection<Action> _posted = new BlockingCollection<Action>();
        private readonly Queue<PendingItem> _inFlight = new Queue<PendingItem>();
        private ResolvedConnection? _connection;
        private CalendarApiClient? _client;
        private bool _disposed;

        /// <summary>How many items may run at once; output keeps input order whatever the value.</summary>
        protected virtual int MaxInFlight => 1;

        /// <summary>Cancelled when the pipeline stops (Ctrl+C, Select-Object -First).</summary>
        protected CancellationToken StopToken => _stop.Token;

        /// <summary>
        /// Turns the current input item into a request, on the pipeline thread: validate, call ShouldProcess, write
        /// errors for bad input. Return null to skip the item (declined, -WhatIf or invalid).
        /// </summary>
        protected abstract TRequest? BuildRequest();

        /// <summary>Runs one request off the pipeline thread; returns the object to write (null writes nothing).</summary>
        protected abstract Task<object?> ExecuteAsync(CalendarApiClient client, TRequest request, CancellationToken cancellationToken);

        /// <summary>The object an item's error record names (the calendar id).</summary>
        protected abstract object? TargetOf(TRequest request);

        /// <summary>One -Verbose line saying what is about to be sent. Must never contain a token or key.</summary>
        protected abstract string DescribeRequest(TRequest request);

        /// <summary>One -Verbose line after success; null writes none.</summary>
        protected virtual string? DescribeResult(TRequest request, object? result) => null;

        /// <summary>The connection given explicitly to this command (-Connection), if any.</summary>
        protected virtual CalendarConnection? ExplicitConnection => null;

        protected override void ProcessRecord()
        {
            var request = BuildRequest();
            if (request is null)
            {
                return;
            }

            Start(request);
            while (_inFlight.Count >= MaxInFlight)
            {
                CompleteOldest();
            }
        }

        protected override void EndProcessing()
        {
            while (_inFlight.Count > 0)
            {
                CompleteOldest();
            }

            // Anything posted after the last item was written (a late -Verbose line) still reaches the user.
            while (_posted.TryTake(out var action))
            {
                action();
            }
        }

        protected override void StopProcessing()
        {
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
                _stop.Cancel();
                _stop.Dispose();
                _posted.Dispose();
                _connection?.Dispose();
            }
        }

        private void Start(TRequest request)
        {
            var client = GetClient();
            WriteVerbose(DescribeRequest(request));
            var token = _stop.Token;
            var task = Task.Run(() => ExecuteAsync(client, request, token), token);
            // Wake the pipeline thread when the item finishes, whatever else it is waiting for.
            task.ContinueWith(_ => Post(static () => { }), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            _inFlight.Enqueue(new PendingItem(request, task));
        }

        /// <summary>Pumps posted messages on the pipeline thread until the oldest item ends, then writes its outcome.</summary>
        private void CompleteOldest()
        {
            var item = _inFlight.Peek();
            try
            {
                while (!item.Task.IsCompleted)
                {
                    if (_posted.TryTake(out var action, Timeout.Infinite, _stop.Token))
                    {
                        action();
                    }
                }

                // Messages posted just before the item ended come before its result.
                while (_posted.TryTake(out var action))
                {
                    action();
                }
            }
            catch (OperationCanceledException)
            {
                throw new PipelineStoppedException();
            }

            _inFlight.Dequeue();
            WriteOutcome(item);
        }

        private void WriteOutcome(PendingItem item)
        {
            var task = item.Task;
            if (task.Status == TaskStatus.RanToCompletion)
            {
                var line = DescribeResult(item.Request, task.Result);
                if (line != null)
                {
                    WriteVerbose(line);
                }

                if (task.Result != null)
                {
                    WriteObject(task.Result);
                }

                return;
            }

            var exception = task.Exception?.GetBaseException();
            if (task.IsCanceled || exception is OperationCanceledException)
            {
                if (_stop.IsCancellationRequested)
                {
                    throw new PipelineStoppedException();
                }

                exception = new CalendarWatchException("CalendarWatch.OperationCanceled", FailureKind.OperationStopped, "The operation was cancelled before it finished.", exception);
            }

            switch (exception)
            {
                case CalendarWatchException calendarError:
                    WriteError(ErrorRecords.From(calendarError, TargetOf(item.Request)));
                    break;
                case ArgumentException argumentError:
                    WriteError(new ErrorRecord(argumentError, "CalendarWatch.InvalidArgument", ErrorCategory.InvalidArgument, TargetOf(item.Request)));
                    break;
                default:
                    // A bug or an environment failure in one item: report it against the item and go on with the rest.
                    WriteError(new ErrorRecord(exception ?? new InvalidOperationException("The operation failed without an exception."), "CalendarWatch.UnexpectedError", ErrorCategory.NotSpecified, TargetOf(item.Request)));
                    break;
            }
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
                    ThrowTerminatingError(new ErrorRecord(ex, "CalendarWatch.InvalidEmulatorHost", ErrorCategory.InvalidArgument, CalendarConnection.EmulatorHostVariable));
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

        private void Post(Action action)
        {
            try
            {
                _posted.Add(action);
            }
            catch (ObjectDisposedException)
            {
                // The command has ended; nothing can be written any more.
            }
            catch (InvalidOperationException)
            {
            }
        }

        private sealed class PendingItem
        {
            public PendingItem(TRequest request, Task<object?> task)
            {
                Request = request;
                Task = task;
            }

            public TRequest Request { get; }

            public Task<object?> Task { get; }
        }
    }
}
