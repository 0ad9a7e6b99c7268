using System;
using System.Collections.Generic;
using System.Runtime.ExceptionServices;
using System.Threading;
using System.Threading.Tasks;
using CalendarWatch.Engine;
using CalendarWatch.Engine.Store;

namespace CalendarWatch
{
    /// <summary>
    /// Watches sent at most <c>slots</c> at a time, with the requests queued behind them already started (so the
    /// pipeline thread hands them over in fewer, larger steps) and known, so that their Pending rows are written
    /// together: when a request gets a send slot and its row is not written yet, the rows of every request then
    /// waiting are written in one commit (a run of watches pays a fraction of a commit per channel
    /// instead of one). A row is always committed before its request is sent. A request cancelled while it waits is
    /// not sent and ends as <see cref="WorkNotStartedException"/> (reported as not started); if its row was written
    /// meanwhile, the row is marked Failed (never sent), so the record still names exactly what may exist.
    /// </summary>
    internal sealed class RecordAhead
    {
        private readonly ChannelStore? _store;
        private readonly SemaphoreSlim _slots;
        private readonly Action<string> _warn;
        private readonly object _recordLock = new object();
        private readonly object _waitingLock = new object();
        private List<Ticket> _waiting = new List<Ticket>();

        // Places in the line for a send slot, taken in input order on the pipeline thread (Reserve) and claimed by SendAsync.
        private readonly Dictionary<WatchRequest, Task> _reserved = new Dictionary<WatchRequest, Task>();

        /// <param name="store">The record; null (-NoRecord): only the send slots.</param>
        public RecordAhead(ChannelStore? store, int slots, Action<string> warn)
        {
            _store = store;
            _slots = new SemaphoreSlim(slots, slots); // never disposed: tasks still winding down after the command may release it
            _warn = warn;
        }

        /// <summary>
        /// Takes the request's place in the line for a send slot, on the pipeline thread as its item starts: slots then go
        /// in input order, so an early item is never left behind later ones (ordered output waits for it, and under a
        /// rate limit the later ones would take the requests the limit still allows).
        /// </summary>
        public void Reserve(WatchRequest request, CancellationToken cancellationToken)
        {
            var slot = _slots.WaitAsync(cancellationToken);
            lock (_reserved)
            {
                _reserved[request] = slot;
            }
        }

        /// <summary>Waits for a send slot, makes sure the request's Pending row is committed, then runs <paramref name="send"/>.</summary>
        public async Task<Channel> SendAsync(CalendarApiClient client, WatchRequest request, Func<Task<Channel>> send, CancellationToken cancellationToken)
        {
            var ticket = new Ticket(request);
            if (_store != null)
            {
                lock (_waitingLock)
                {
                    _waiting.Add(ticket);
                }
            }

            Task? slot;
            lock (_reserved)
            {
                if (_reserved.TryGetValue(request, out slot)) _reserved.Remove(request);
            }

            try
            {
                await (slot ?? _slots.WaitAsync(cancellationToken)).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                throw NotSent(ticket, cancellationToken);
            }

            try
            {
                // A slot granted as the stop came, or a stop while the rows were written: nothing is sent after a stop.
                if (cancellationToken.IsCancellationRequested) throw NotSent(ticket, cancellationToken);
                if (_store != null) Record(_store, client, ticket);
                if (cancellationToken.IsCancellationRequested) throw NotSent(ticket, cancellationToken);
                if (ticket.Error != null) ExceptionDispatchInfo.Capture(ticket.Error).Throw();
                return await send().ConfigureAwait(false);
            }
            finally
            {
                _slots.Release();
            }
        }

        /// <summary>Commits the ticket's row, with the rows of every request waiting behind it, unless a batch already did.</summary>
        private void Record(ChannelStore store, CalendarApiClient client, Ticket ticket)
        {
            // Written by an earlier batch (the usual case): no need to wait for a batch being written now.
            if (ticket.Committed) return;
            lock (_recordLock)
            {
                if (ticket.Committed) return;
                List<Ticket> batch;
                lock (_waitingLock)
                {
                    batch = _waiting;
                    _waiting = new List<Ticket>();
                }

                var connection = client.Connection;
                var writes = new PendingWrite[batch.Count];
                for (var i = 0; i < batch.Count; i++)
                {
                    var request = batch[i].Request;
                    writes[i] = new PendingWrite(request, connection.Account, connection.SubjectFor(request.Subject));
                }

                try
                {
                    store.RecordPending(writes);
                    for (var i = 0; i < batch.Count; i++) batch[i].Error = writes[i].Error;
                }
                catch (Exception ex)
                {
                    // Whatever went wrong, no request of the batch may be sent: each fails with it.
                    foreach (var waiting in batch) waiting.Error = ex;
                }
                finally
                {
                    foreach (var waiting in batch) waiting.Committed = true;
                }
            }
        }

        /// <summary>
        /// A ticket cancelled before it was sent: out of the waiting list, or, if its row was written, marked Failed.
        /// Returns the exception that reports the item as not started.
        /// </summary>
        private WorkNotStartedException NotSent(Ticket ticket, CancellationToken cancellationToken)
        {
            var notStarted = new WorkNotStartedException(cancellationToken);
            var store = _store;
            if (store is null) return notStarted;
            lock (_recordLock)
            {
                lock (_waitingLock)
                {
                    if (_waiting.Remove(ticket)) return notStarted;
                }

                if (!ticket.Committed || ticket.Error != null) return notStarted;
            }

            RecordedWatch.Update(store, ticket.Request.ChannelId, _warn, s => s.MarkFailed(ticket.Request.ChannelId, StopReport.NeverSent));
            return notStarted;
        }

        private sealed class Ticket
        {
            public Ticket(WatchRequest request) => Request = request;

            public WatchRequest Request { get; }

            private volatile bool _committed;

            /// <summary>The batch holding this ticket has ended (set under _recordLock, after <see cref="Error"/>), so its row is written unless Error says otherwise.</summary>
            public bool Committed
            {
                get => _committed;
                set => _committed = value;
            }

            public Exception? Error { get; set; }
        }
    }
}
