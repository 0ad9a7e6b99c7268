using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Runtime.ExceptionServices;
using System.Text;
using System.Threading;
using Microsoft.Data.Sqlite;

namespace CalendarWatch.Engine.Store
{
    /// <summary>
    /// The channel record: every channel CalendarWatch asked Google for, in one SQLite file per user (WAL mode), written
    /// before each watch request is sent so that a killed process still names every channel that may exist.
    /// </summary>
    /// <remarks>
    /// Safe to share between threads: calls write (and read) through one held connection in turn, and Pending rows that
    /// arrive together share one commit; <see cref="Query"/> streams on a pooled connection of its own. Safe between processes: WAL lets
    /// readers run beside one writer, and a writer waits up to <see cref="ChannelStoreOptions.BusyTimeout"/> for
    /// another (SQLite's busy handler, then Microsoft.Data.Sqlite's own retry of SQLITE_BUSY/LOCKED). Every write is a
    /// single statement or an IMMEDIATE transaction, so it never has to upgrade a read lock (which WAL would refuse
    /// without waiting). Microsoft.Data.Sqlite has no real asynchronous I/O, so the API is synchronous: a call costs
    /// tens of microseconds (<see cref="ChannelStoreDurability.ProcessCrash"/>) unless it waits for another writer.
    /// State changes are checked in the UPDATE itself (WHERE state IN ...), so two callers racing on one channel
    /// cannot both move it. Failures are <see cref="CalendarWatchException"/>s (CalendarWatch.Store*, ChannelNotRecorded,
    /// ChannelStateConflict, ChannelIdRecorded).
    /// </remarks>
    public sealed class ChannelStore : IDisposable
    {
        private const string Columns = "channel_id, state, calendar_id, resource, address, token, event_types, account, subject, ttl_seconds, expires_at, " +
                                       "resource_id, resource_uri, expiration, created_at, updated_at, last_error, replaced_by, replaces";

        /// <summary>SQLITE_CONSTRAINT_PRIMARYKEY: the channel id is taken.</summary>
        private const int SqliteConstraintPrimaryKey = 1555;

        /// <summary>Native connections (pooled, reused) whose busy_timeout and synchronous pragmas are set.</summary>
        private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<SQLitePCL.sqlite3, string> Configured = new System.Runtime.CompilerServices.ConditionalWeakTable<SQLitePCL.sqlite3, string>();

        private readonly string _connectionString;
        private readonly string _pragmas;
        private readonly TimeProvider _clock;
        private readonly TimeSpan _busyTimeout;
        private volatile bool _disposed;

        // What waits to be written: Pending rows (RecordPending) and Active marks (MarkActiveLater), and the timer that
        // writes the marks at the latest. Guarded by _queueLock.
        private readonly object _queueLock = new object();
        private List<PendingWrite> _inserts = new List<PendingWrite>();
        private List<LaterMark> _later = new List<LaterMark>();
        private ITimer? _laterTimer;
        private bool _laterArmed;

        // Every write of this store (and every read but Query's stream) goes through one connection, held for the
        // store's life and used under _writeLock: its statements are prepared once, no call pays a pool round trip,
        // and this process's own threads never meet in SQLite's busy handler (which sleeps). Whoever holds the lock
        // writes everything queued, so Pending rows that arrive meanwhile share one commit (group commit).
        private readonly object _writeLock = new object();
        private readonly string _writerConnectionString;
        private StoreWriter? _writer;

        private ChannelStore(string path, ChannelStoreOptions options)
        {
            Path = path;
            _clock = options.Clock ?? TimeProvider.System;
            _busyTimeout = options.BusyTimeout > TimeSpan.Zero ? options.BusyTimeout : TimeSpan.Zero;
            _connectionString = new SqliteConnectionStringBuilder
            {
                DataSource = path,
                Mode = SqliteOpenMode.ReadWriteCreate,
                Cache = SqliteCacheMode.Private,
                Pooling = true,
                // Microsoft.Data.Sqlite's own retry of SQLITE_BUSY/LOCKED (whole seconds), after SQLite's busy handler below.
                DefaultTimeout = Math.Max(1, (int)Math.Ceiling(_busyTimeout.TotalSeconds)),
            }.ToString();
            _writerConnectionString = new SqliteConnectionStringBuilder(_connectionString) { Pooling = false }.ToString();
            _pragmas = string.Format(CultureInfo.InvariantCulture, "PRAGMA busy_timeout = {0}; PRAGMA synchronous = {1};",
                (long)_busyTimeout.TotalMilliseconds, options.Durability == ChannelStoreDurability.SystemCrash ? "FULL" : "NORMAL");
        }

        /// <summary>The database file.</summary>
        public string Path { get; }

        /// <summary>The schema version this code writes and reads.</summary>
        public static int SchemaVersion => StoreSchema.Version;

        /// <summary>Opens the current user's record (<see cref="ChannelStoreLocation.Resolve()"/>), creating it as needed.</summary>
        public static ChannelStore Open(ChannelStoreOptions? options = null) => Open(ChannelStoreLocation.Resolve().Path, options);

        /// <summary>
        /// Opens the record at <paramref name="path"/>: creates its folder and file (user-only on Unix), switches it to
        /// WAL and migrates it to <see cref="SchemaVersion"/>. A file of a newer schema or another application is refused.
        /// </summary>
        public static ChannelStore Open(string path, ChannelStoreOptions? options = null)
        {
            if (string.IsNullOrWhiteSpace(path)) throw new ArgumentException("The channel record needs a file path.", nameof(path));
            var fullPath = System.IO.Path.GetFullPath(path);
            SqliteNative.EnsureInitialized();
            StoreFiles.Prepare(fullPath);
            var store = new ChannelStore(fullPath, options ?? new ChannelStoreOptions());
            try
            {
                store.Run(connection =>
                {
                    StoreSchema.Migrate(connection, fullPath);
                    return true;
                });
            }
            catch
            {
                store.Dispose();
                throw;
            }

            return store;
        }

        /// <summary>
        /// Records a channel about to be requested, as Pending: call it before sending the watch request, and send only
        /// once it returned (the row is committed). <paramref name="account"/> is the identity that will create it;
        /// <paramref name="subject"/> the user it acts as (null: <see cref="WatchRequest.Subject"/>); <paramref name="replaces"/>
        /// the channel it is to replace, if any. An id already in the record is refused (CalendarWatch.ChannelIdRecorded):
        /// Google refuses an id used before in the project.
        /// </summary>
        public ChannelRecord RecordPending(WatchRequest request, string? account, string? subject, string? replaces = null)
        {
            if (request is null) throw new ArgumentNullException(nameof(request));
            var write = new PendingWrite(request, account, subject, replaces);
            RecordPending(new[] { write });
            if (write.Error != null) ExceptionDispatchInfo.Capture(write.Error).Throw();
            return write.Record!;
        }

        /// <summary>
        /// <see cref="RecordPending(WatchRequest, string?, string?, string?)"/> for several channels in one transaction (one
        /// commit for all: what a run of watches that knows its next requests pays per channel). Each write gets its
        /// <see cref="PendingWrite.Record"/>, or its <see cref="PendingWrite.Error"/> (invalid, id taken, record failed)
        /// and must not be sent; one write's error does not stop the others.
        /// </summary>
        public void RecordPending(IReadOnlyList<PendingWrite> writes)
        {
            if (writes is null) throw new ArgumentNullException(nameof(writes));
            ThrowIfDisposed();

            // As stored (times in whole milliseconds, lifetimes in whole seconds), so that what the caller holds equals what Get returns.
            var now = WholeMilliseconds(Now());
            var queued = new List<PendingWrite>(writes.Count);
            foreach (var write in writes)
            {
                // A write given again (a retry after StoreBusy) starts afresh.
                write.Record = null;
                write.Error = null;
                write.Done = false;
                try
                {
                    write.Record = NewPending(write, now);
                    queued.Add(write);
                }
                catch (Exception ex) when (ex is ArgumentException || ex is CalendarWatchException)
                {
                    write.Error = ex;
                    write.Done = true;
                }
            }

            if (queued.Count == 0) return;

            // Queued, then committed by whichever thread writes next: this one, or one already writing (then with its
            // rows and any Active marks waiting, in one transaction). The rows are committed when this returns.
            lock (_queueLock)
            {
                _inserts.AddRange(queued);
            }

            List<(LaterMark Mark, CalendarWatchException Error)>? laterFailures = null;
            lock (_writeLock)
            {
                if (!queued[queued.Count - 1].Done) laterFailures = WriteQueued();
            }

            ReportLater(laterFailures);
        }

        private static ChannelRecord NewPending(PendingWrite write, DateTimeOffset now)
        {
            var request = write.Request;
            var takesCalendarId = ApiMethod.Watch(request.Resource).TakesCalendarId;
            if (takesCalendarId) RequestValidation.ValidateCalendarId(request.CalendarId, request.ChannelId);
            RequestValidation.ValidateChannelId(request.ChannelId, request.CalendarId);
            RequestValidation.ValidateAddressForm(request.Address, request.CalendarId, request.ChannelId);
            return new ChannelRecord
            {
                ChannelId = request.ChannelId,
                State = ChannelState.Pending,
                CalendarId = takesCalendarId ? request.CalendarId : "me",
                Resource = request.Resource,
                Address = request.Address!.AbsoluteUri,
                Token = string.IsNullOrEmpty(request.Token) ? null : request.Token,
                EventTypes = string.Join(",", request.EventTypes),
                Account = NullIfEmpty(write.Account),
                Subject = NullIfEmpty(write.Subject ?? request.Subject),
                TimeToLive = request.TimeToLive is TimeSpan ttl ? TimeSpan.FromSeconds(WholeSeconds(ttl)) : null,
                ExpiresAt = request.ExpiresAt is DateTimeOffset at ? WholeMilliseconds(at) : null,
                CreatedAt = now,
                UpdatedAt = now,
                Replaces = NullIfEmpty(write.Replaces),
            };
        }

        /// <summary>
        /// Under _writeLock: writes every queued Active mark, then every queued Pending row, in one IMMEDIATE transaction.
        /// A Pending row whose id is taken fails alone; anything else fails them all. Returns the marks that failed, for
        /// <see cref="ReportLater"/> once the lock is released.
        /// </summary>
        private List<(LaterMark Mark, CalendarWatchException Error)>? WriteQueued()
        {
            List<PendingWrite>? inserts;
            List<LaterMark>? marks;
            lock (_queueLock)
            {
                inserts = _inserts.Count == 0 ? null : _inserts;
                if (inserts != null) _inserts = new List<PendingWrite>();
                marks = _later.Count == 0 ? null : _later;
                if (marks != null) _later = new List<LaterMark>();
            }

            if (inserts is null && marks is null) return null;
            List<(LaterMark Mark, CalendarWatchException Error)>? failures = null;
            var committed = false;
            try
            {
                var writer = Writer();
                var now = Now();
                writer.Begin();
                if (marks != null) failures = ApplyLater(writer, marks, now);
                if (inserts != null)
                {
                    foreach (var queued in inserts)
                    {
                        try
                        {
                            writer.Insert(queued.Record!);
                        }
                        catch (SqliteException ex) when (ex.SqliteExtendedErrorCode == SqliteConstraintPrimaryKey)
                        {
                            // The statement alone is undone; the transaction and the other rows go on.
                            queued.Error = IdRecorded(queued.Record!, Get(writer.Connection, queued.Record!.ChannelId, now), ex);
                        }
                    }
                }

                writer.Commit();
                committed = true;
            }
            catch (Exception ex) when (!(ex is OutOfMemoryException))
            {
                // Nothing was committed: every row and mark fails with it, and the connection is closed (which rolls back).
                DropWriter();
                if (inserts != null)
                {
                    foreach (var queued in inserts) queued.Error = Failure(ex);
                }

                var failure = Failure(ex);
                failures = marks?.Select(m => (m, failure)).ToList();
            }
            finally
            {
                if (!committed && inserts != null)
                {
                    // Left by an exception no catch took (out of memory): no row may be taken as written.
                    DropWriter();
                    foreach (var queued in inserts) queued.Error ??= new CalendarWatchException("CalendarWatch.StoreFailed", FailureKind.ResourceUnavailable, $"The channel record {Path} was not written.");
                }

                if (inserts != null)
                {
                    foreach (var queued in inserts)
                    {
                        if (queued.Error != null) queued.Record = null;
                        queued.Done = true;
                    }
                }
            }

            return failures;
        }

        /// <summary>Any failure of a write as the CalendarWatchException its caller reports.</summary>
        private CalendarWatchException Failure(Exception ex) => ex switch
        {
            CalendarWatchException known => known,
            SqliteException sqlite => StoreFailure(sqlite),
            ObjectDisposedException => new CalendarWatchException("CalendarWatch.StoreClosed", FailureKind.NotSupported, $"The channel record {Path} was closed before this was written.", ex),
            _ => new CalendarWatchException("CalendarWatch.StoreFailed", FailureKind.ResourceUnavailable, $"The channel record {Path} was not written: {ex.Message}", ex),
        };

        private CalendarWatchException IdRecorded(ChannelRecord record, ChannelRecord? existing, SqliteException ex) =>
            new CalendarWatchException("CalendarWatch.ChannelIdRecorded", FailureKind.ResourceExists,
                $"Channel id '{record.ChannelId}' is already in the channel record" +
                (existing is null ? string.Empty : $" ({existing.State} {existing.Resource} channel on calendar '{existing.CalendarId}', address {existing.Address}, recorded {Format(existing.CreatedAt)})") +
                ". Google refuses an id used before in the project: give a new id (omit -ChannelId for a fresh GUID), or work with the recorded channel.", ex)
            {
                CalendarId = record.CalendarId,
                ChannelId = record.ChannelId,
                Address = record.Address,
                Subject = record.Subject,
            };

        /// <summary>Under _writeLock: the held connection, opened (with its pragmas) when first needed or after a failure.</summary>
        private StoreWriter Writer()
        {
            ThrowIfDisposed();
            return _writer ??= new StoreWriter(OpenConnection(_writerConnectionString));
        }

        /// <summary>Under _writeLock: closes the held connection (an open transaction is rolled back); the next write opens another.</summary>
        private void DropWriter()
        {
            var writer = _writer;
            _writer = null;
            try
            {
                writer?.Dispose();
            }
            catch (SqliteException)
            {
                // Closing failed: the handle is released all the same, and the next write opens a new connection.
            }
        }

        /// <summary>Google answered with <paramref name="channel"/>: Pending or MayExist (or Active, refreshed) becomes Active with its resourceId and expiration.</summary>
        public ChannelRecord MarkActive(string channelId, Channel channel)
        {
            CheckActive(channelId, channel);
            return Transition(channelId, ChannelState.Active, new[] { ChannelState.Pending, ChannelState.MayExist, ChannelState.Active }, ActiveColumns,
                command =>
                {
                    Bind(command, "$resourceId", channel.ResourceId);
                    Bind(command, "$resourceUri", NullIfEmpty(channel.ResourceUri));
                    Bind(command, "$expiration", ToUnixMs(channel.Expiration));
                    Bind(command, "$token", NullIfEmpty(channel.Token));
                });
        }

        /// <summary>
        /// <see cref="MarkActive"/>, written later: with this store's next <see cref="RecordPending"/> (in its transaction,
        /// so a run of watches pays one commit per channel), before any other use of this store, on <see cref="Flush"/>
        /// and <see cref="Dispose"/>, and at the latest after <see cref="LaterDelay"/>. A process killed before leaves the
        /// channel Pending, which the record reads as "may exist": nothing is lost, only its resourceId (Stop finds it).
        /// A mark that cannot be written goes to <paramref name="onFailure"/> (on whichever thread writes it); one
        /// for a channel stopped or replaced meanwhile is dropped silently.
        /// </summary>
        public void MarkActiveLater(string channelId, Channel channel, Action<CalendarWatchException>? onFailure = null)
        {
            CheckActive(channelId, channel);
            ThrowIfDisposed();
            lock (_queueLock)
            {
                _later.Add(new LaterMark(channelId, channel, onFailure));
                if (!_laterArmed)
                {
                    // One timer for the store's life, armed when a mark finds it idle: creating one per mark would wake
                    // the runtime's timer thread for every channel. A mark written sooner leaves it armed; it then finds
                    // nothing to write.
                    _laterArmed = true;
                    if (_laterTimer is null) _laterTimer = _clock.CreateTimer(_ => FlushLater(), null, LaterDelay, Timeout.InfiniteTimeSpan);
                    else _laterTimer.Change(LaterDelay, Timeout.InfiniteTimeSpan);
                }
            }
        }

        /// <summary>The longest an Active mark of <see cref="MarkActiveLater"/> waits.</summary>
        public static readonly TimeSpan LaterDelay = TimeSpan.FromMilliseconds(100);

        private void FlushLater()
        {
            // Disarmed first: a mark queued from here on arms the timer again, and every earlier one is written below.
            lock (_queueLock)
            {
                _laterArmed = false;
            }

            Flush();
        }

        /// <summary>Writes the marks of <see cref="MarkActiveLater"/> now, in one transaction. Failures go to their callbacks.</summary>
        public void Flush()
        {
            List<(LaterMark Mark, CalendarWatchException Error)>? failures;
            lock (_writeLock)
            {
                failures = WriteQueued();
            }

            ReportLater(failures);
        }

        private List<(LaterMark Mark, CalendarWatchException Error)>? ApplyLater(StoreWriter writer, List<LaterMark> marks, DateTimeOffset now)
        {
            List<(LaterMark, CalendarWatchException)>? failures = null;
            foreach (var mark in marks)
            {
                if (writer.Activate(mark.ChannelId, mark.Channel, now) == 1) continue;
                var current = Get(writer.Connection, mark.ChannelId, now);
                if (current is { State: ChannelState.Stopped or ChannelState.Replaced }) continue;
                (failures ??= new List<(LaterMark, CalendarWatchException)>()).Add((mark, current is null ? NotRecorded(mark.ChannelId) : Refused(current, ChannelState.Active)));
            }

            return failures;
        }

        private static void ReportLater(List<(LaterMark Mark, CalendarWatchException Error)>? failures)
        {
            if (failures is null) return;
            foreach (var (mark, error) in failures)
            {
                try
                {
                    mark.OnFailure?.Invoke(error);
                }
                catch (Exception ex) when (!(ex is OutOfMemoryException))
                {
                    // A report that cannot be made must not undo the write that carried it (the rows are committed)
                    // nor end the timer's thread: the mark's failure is then only in the record, as Pending.
                }
            }
        }

        private static void CheckActive(string channelId, Channel channel)
        {
            CheckId(channelId, nameof(channelId));
            if (channel is null) throw new ArgumentNullException(nameof(channel));
            if (!string.IsNullOrEmpty(channel.Id) && !string.Equals(channel.Id, channelId, StringComparison.Ordinal))
            {
                throw new ArgumentException($"The channel's id '{channel.Id}' is not '{channelId}'.", nameof(channel));
            }

            if (string.IsNullOrEmpty(channel.ResourceId)) throw new ArgumentException("An active channel needs the resourceId Google returned.", nameof(channel));
        }

        internal const string ActiveColumns = "resource_id = $resourceId, resource_uri = coalesce($resourceUri, resource_uri), expiration = $expiration, token = coalesce($token, token), last_error = NULL";

        private sealed class LaterMark
        {
            public LaterMark(string channelId, Channel channel, Action<CalendarWatchException>? onFailure)
            {
                ChannelId = channelId;
                Channel = channel;
                OnFailure = onFailure;
            }

            public string ChannelId { get; }

            public Channel Channel { get; }

            public Action<CalendarWatchException>? OnFailure { get; }
        }

        /// <summary>Google refused the request, or it was never sent: nothing exists. Only a Pending channel can fail.</summary>
        public ChannelRecord MarkFailed(string channelId, string error) =>
            Transition(channelId, ChannelState.Failed, new[] { ChannelState.Pending, ChannelState.Failed }, "last_error = $error",
                command => Bind(command, "$error", error ?? string.Empty));

        /// <summary>The request may have been carried out but no channel came back (CalendarWatch.ChannelMayExist).</summary>
        public ChannelRecord MarkMayExist(string channelId, string error) =>
            Transition(channelId, ChannelState.MayExist, new[] { ChannelState.Pending, ChannelState.MayExist }, "last_error = $error",
                command => Bind(command, "$error", error ?? string.Empty));

        /// <summary>channels.stop succeeded (or found it gone). Refused for a Failed channel, which never existed.</summary>
        public ChannelRecord MarkStopped(string channelId) =>
            Transition(channelId, ChannelState.Stopped,
                new[] { ChannelState.Pending, ChannelState.Active, ChannelState.MayExist, ChannelState.Replaced, ChannelState.Stopped }, null, null);

        /// <summary>
        /// <paramref name="newChannelId"/> took over from <paramref name="oldChannelId"/> (renewal): the old one becomes
        /// Replaced with ReplacedBy set, the new one gets Replaces, in one transaction. The new channel must be recorded.
        /// The old one may be Active, MayExist or Stopped (stopped as part of the renewal), or already replaced by the same successor.
        /// </summary>
        public ChannelRecord MarkReplaced(string oldChannelId, string newChannelId)
        {
            CheckId(oldChannelId, nameof(oldChannelId));
            CheckId(newChannelId, nameof(newChannelId));
            if (string.Equals(oldChannelId, newChannelId, StringComparison.Ordinal)) throw new ArgumentException("A channel cannot replace itself.", nameof(newChannelId));
            var now = Now();
            return Run(connection =>
            {
                using var transaction = connection.BeginTransaction(deferred: false);
                var successor = Get(connection, newChannelId, now) ?? throw NotRecorded(newChannelId);
                if (successor.Replaces != null && !string.Equals(successor.Replaces, oldChannelId, StringComparison.Ordinal))
                {
                    throw new CalendarWatchException("CalendarWatch.ChannelStateConflict", FailureKind.NotSupported,
                        $"Channel '{newChannelId}' already replaces channel '{successor.Replaces}', not '{oldChannelId}'.")
                    {
                        ChannelId = newChannelId,
                        CalendarId = successor.CalendarId,
                    };
                }

                using (var command = connection.CreateCommand())
                {
                    command.Transaction = transaction;
                    command.CommandText = "UPDATE channels SET state = 'Replaced', replaced_by = $new, updated_at = $now WHERE channel_id = $old AND " +
                                          "(state IN ('Active', 'MayExist', 'Stopped') OR (state = 'Replaced' AND replaced_by = $new)) RETURNING " + Columns + ";";
                    Bind(command, "$old", oldChannelId);
                    Bind(command, "$new", newChannelId);
                    Bind(command, "$now", ToUnixMs(now));
                    var replaced = ReadSingle(command, now);
                    if (replaced is null)
                    {
                        var current = Get(connection, oldChannelId, now);
                        throw current is null ? NotRecorded(oldChannelId) : Refused(current, ChannelState.Replaced);
                    }

                    using var link = connection.CreateCommand();
                    link.Transaction = transaction;
                    link.CommandText = "UPDATE channels SET replaces = $old, updated_at = $now WHERE channel_id = $new;";
                    Bind(link, "$old", oldChannelId);
                    Bind(link, "$new", newChannelId);
                    Bind(link, "$now", ToUnixMs(now));
                    link.ExecuteNonQuery();
                    transaction.Commit();
                    return replaced;
                }
            });
        }

        /// <summary>
        /// Fills in the resourceId Google names in a notification (X-Goog-Resource-ID), in any state: what a MayExist
        /// channel needs to be stopped. The state is left as it is.
        /// </summary>
        public ChannelRecord SetResourceId(string channelId, string resourceId)
        {
            if (string.IsNullOrWhiteSpace(resourceId)) throw new ArgumentException("The resourceId is empty.", nameof(resourceId));
            return Transition(channelId, null, Array.Empty<ChannelState>(), "resource_id = $resourceId", command => Bind(command, "$resourceId", resourceId));
        }

        /// <summary>The channel's row, or null when the record does not know it.</summary>
        public ChannelRecord? Get(string channelId)
        {
            CheckId(channelId, nameof(channelId));
            var now = Now();
            return Run(connection => Get(connection, channelId, now));
        }

        /// <summary>
        /// Streams the rows <paramref name="filter"/> selects, oldest first (default: the live channels). Nothing is read
        /// until enumeration starts; one connection is held until it ends, and other processes keep writing meanwhile
        /// (the enumeration sees the record as it was when it started).
        /// </summary>
        public IEnumerable<ChannelRecord> Query(ChannelQuery? filter = null)
        {
            ThrowIfDisposed();
            Flush();
            filter ??= new ChannelQuery();
            if (filter.ExpiringWithin is TimeSpan within && within < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(filter), "ExpiringWithin must not be negative.");
            var now = filter.Now ?? Now();
            var sql = new StringBuilder("SELECT ").Append(Columns).Append(" FROM channels WHERE 1 = 1");
            var parameters = new List<KeyValuePair<string, object?>> { new KeyValuePair<string, object?>("$now", ToUnixMs(now)) };
            if (!string.IsNullOrEmpty(filter.CalendarId))
            {
                sql.Append(" AND calendar_id = $calendar");
                parameters.Add(new KeyValuePair<string, object?>("$calendar", filter.CalendarId));
            }

            if (filter.Resource is WatchResource resource)
            {
                sql.Append(" AND resource = $resource");
                parameters.Add(new KeyValuePair<string, object?>("$resource", resource.ToString()));
            }

            if (!string.IsNullOrEmpty(filter.Subject))
            {
                sql.Append(" AND subject = $subject");
                parameters.Add(new KeyValuePair<string, object?>("$subject", filter.Subject));
            }

            if (!string.IsNullOrEmpty(filter.Account))
            {
                sql.Append(" AND account = $account");
                parameters.Add(new KeyValuePair<string, object?>("$account", filter.Account));
            }

            var states = filter.States is { Count: > 0 } given
                ? given.Distinct().ToArray()
                : filter.AllStates ? null : new[] { ChannelState.Pending, ChannelState.MayExist, ChannelState.Active };
            if (states != null)
            {
                sql.Append(" AND (").Append(StateCondition(states)).Append(')');
            }

            if (filter.ExpiringWithin is TimeSpan window)
            {
                sql.Append(" AND expiration > $now AND expiration <= $until");
                parameters.Add(new KeyValuePair<string, object?>("$until", ToUnixMs(now + window)));
            }

            sql.Append(" ORDER BY rowid;");
            return Stream(sql.ToString(), parameters, now);
        }

        /// <summary>
        /// The resourceId of another recorded channel on the same calendar and resource (Google's resourceId names the
        /// watched resource, not the channel): what stopping a MayExist channel needs. Channels of the same account and
        /// subject come first, then the newest. For "primary", "me" (CalendarList, Settings) only the same identity
        /// counts, since those ids mean a different calendar for each identity. Null when none is known.
        /// </summary>
        public string? FindResourceId(string calendarId, WatchResource resource, string? account, string? subject)
        {
            if (string.IsNullOrEmpty(calendarId)) throw new ArgumentException("A calendar id is needed.", nameof(calendarId));
            var recorded = ApiMethod.Watch(resource).TakesCalendarId ? calendarId : "me";
            var identityBound = !ApiMethod.Watch(resource).TakesCalendarId || string.Equals(recorded, "primary", StringComparison.OrdinalIgnoreCase);
            return Run(connection =>
            {
                using var command = connection.CreateCommand();
                const string sameIdentity = "coalesce(account, '') = coalesce($account, '') AND coalesce(subject, '') = coalesce($subject, '')";
                command.CommandText = "SELECT resource_id FROM channels WHERE calendar_id = $calendar AND resource = $resource AND resource_id IS NOT NULL AND resource_id <> ''" +
                                      (identityBound ? " AND " + sameIdentity : string.Empty) +
                                      " ORDER BY (" + sameIdentity + ") DESC, updated_at DESC LIMIT 1;";
                Bind(command, "$calendar", recorded);
                Bind(command, "$resource", resource.ToString());
                Bind(command, "$account", NullIfEmpty(account));
                Bind(command, "$subject", NullIfEmpty(subject));
                return command.ExecuteScalar() as string;
            });
        }

        /// <summary>
        /// For tab completion: up to <paramref name="limit"/> distinct values of <paramref name="field"/> that start with
        /// <paramref name="prefix"/> (case-insensitive), sorted. Channel ids are the live channels' only (Active,
        /// Pending, MayExist: what Stop- and Update-CalendarChannel act on); calendar ids and subjects come from every
        /// row. Read through the indexes, so a record of 100,000 rows answers at once.
        /// </summary>
        public IReadOnlyList<string> Suggest(ChannelField field, string? prefix, int limit = 100)
        {
            ThrowIfDisposed();
            if (limit <= 0) throw new ArgumentOutOfRangeException(nameof(limit), limit, "The limit must be positive.");
            var column = field switch
            {
                ChannelField.CalendarId => "calendar_id",
                ChannelField.Subject => "subject",
                ChannelField.ChannelId => "channel_id",
                _ => throw new ArgumentOutOfRangeException(nameof(field), field, "Not a field that completes."),
            };
            var now = Now();
            return Run(connection =>
            {
                using var command = connection.CreateCommand();
                var live = field == ChannelField.ChannelId ? " AND (" + StateCondition(new[] { ChannelState.Pending, ChannelState.MayExist, ChannelState.Active }) + ")" : string.Empty;
                command.CommandText = "SELECT DISTINCT " + column + " FROM channels WHERE " + column + " IS NOT NULL AND " + column + " <> ''" +
                                      " AND substr(" + column + ", 1, $length) = $prefix COLLATE NOCASE" + live +
                                      " ORDER BY " + column + " COLLATE NOCASE LIMIT $limit;";
                var text = prefix ?? string.Empty;
                Bind(command, "$prefix", text);
                Bind(command, "$length", text.Length);
                Bind(command, "$limit", limit);
                Bind(command, "$now", ToUnixMs(now));
                var values = new List<string>();
                using var reader = command.ExecuteReader();
                while (reader.Read())
                {
                    values.Add(reader.GetString(0));
                }

                return (IReadOnlyList<string>)values;
            });
        }

        /// <summary>Closes the pooled connections to the file. The store cannot be used afterwards.</summary>
        public void Dispose()
        {
            if (_disposed) return;
            Flush();
            lock (_writeLock)
            {
                _disposed = true;
                DropWriter();
            }

            // Marks that arrived after the flush above: they can no longer be written, and say so.
            List<LaterMark>? left;
            lock (_queueLock)
            {
                _laterTimer?.Dispose();
                _laterTimer = null;
                left = _later.Count == 0 ? null : _later;
                _later = new List<LaterMark>();
            }

            if (left != null)
            {
                var closed = Failure(new ObjectDisposedException(nameof(ChannelStore)));
                ReportLater(left.Select(m => (m, closed)).ToList());
            }

            using var connection = new SqliteConnection(_connectionString);
            SqliteConnection.ClearPool(connection);
        }

        public override string ToString() => Path;

        /// <summary>Runs <paramref name="work"/> on a pooled connection; SQLite failures become CalendarWatch.Store* errors.</summary>
        internal T Run<T>(Func<SqliteConnection, T> work)
        {
            ThrowIfDisposed();
            List<(LaterMark Mark, CalendarWatchException Error)>? failures = null;
            try
            {
                lock (_writeLock)
                {
                    // What is still queued is written first, so that every use sees it (and in its order).
                    failures = WriteQueued();
                    try
                    {
                        return work(Writer().Connection);
                    }
                    catch (SqliteException ex)
                    {
                        if (_writer is { InAutocommit: false }) DropWriter();
                        throw StoreFailure(ex);
                    }
                }
            }
            finally
            {
                ReportLater(failures);
            }
        }

        /// <summary>Inserts rows as they are, in one transaction (benchmarks and tests seed large records with it).</summary>
        internal void Insert(IEnumerable<ChannelRecord> records)
        {
            Run(connection =>
            {
                using var transaction = connection.BeginTransaction(deferred: false);
                using var command = connection.CreateCommand();
                command.Transaction = transaction;
                command.CommandText = "INSERT INTO channels (" + Columns + ") VALUES ($id, $state, $calendar, $resource, $address, $token, $eventTypes, $account, $subject, $ttl, $expiresAt, " +
                                      "$resourceId, $resourceUri, $expiration, $created, $updated, $error, $replacedBy, $replaces);";
                var names = new[] { "$id", "$state", "$calendar", "$resource", "$address", "$token", "$eventTypes", "$account", "$subject", "$ttl", "$expiresAt", "$resourceId", "$resourceUri", "$expiration", "$created", "$updated", "$error", "$replacedBy", "$replaces" };
                var parameters = names.Select(n => command.Parameters.Add(new SqliteParameter { ParameterName = n })).ToArray();
                command.Prepare();
                foreach (var r in records)
                {
                    var values = new object?[]
                    {
                        r.ChannelId, (r.State == ChannelState.Expired ? ChannelState.Active : r.State).ToString(), r.CalendarId, r.Resource.ToString(), r.Address, r.Token, r.EventTypes,
                        r.Account, r.Subject, r.TimeToLive is TimeSpan ttl ? WholeSeconds(ttl) : null, ToUnixMs(r.ExpiresAt), r.ResourceId, r.ResourceUri,
                        ToUnixMs(r.Expiration), ToUnixMs(r.CreatedAt), ToUnixMs(r.UpdatedAt), r.LastError, r.ReplacedBy, r.Replaces,
                    };
                    for (var i = 0; i < values.Length; i++) parameters[i].Value = values[i] ?? DBNull.Value;
                    command.ExecuteNonQuery();
                }

                transaction.Commit();
                return true;
            });
        }

        private SqliteConnection OpenConnection() => OpenConnection(_connectionString);

        private SqliteConnection OpenConnection(string connectionString)
        {
            var connection = new SqliteConnection(connectionString);
            try
            {
                connection.Open();

                // A pooled connection keeps its native handle, and the handle keeps its pragmas: set them once per
                // handle (again if a store with other options on the same file used it last).
                var handle = connection.Handle!;
                if (!Configured.TryGetValue(handle, out var set) || !string.Equals(set, _pragmas, StringComparison.Ordinal))
                {
                    using var command = connection.CreateCommand();
                    command.CommandText = _pragmas;
                    command.ExecuteNonQuery();
                    Configured.Remove(handle);
                    Configured.Add(handle, _pragmas);
                }

                return connection;
            }
            catch
            {
                connection.Dispose();
                throw;
            }
        }

        /// <summary>
        /// One state change as one UPDATE ... WHERE state IN (<paramref name="from"/>) RETURNING: atomic against other
        /// writers. <paramref name="to"/> null changes no state (and any state is accepted).
        /// </summary>
        private ChannelRecord Transition(string channelId, ChannelState? to, ChannelState[] from, string? set, Action<SqliteCommand>? bind)
        {
            CheckId(channelId, nameof(channelId));
            var now = Now();
            return Run(connection =>
            {
                using var command = connection.CreateCommand();
                var sql = new StringBuilder("UPDATE channels SET updated_at = $now");
                if (to is ChannelState state) sql.Append(", state = '").Append(state.ToString()).Append('\'');
                if (set != null) sql.Append(", ").Append(set);
                sql.Append(" WHERE channel_id = $id");
                if (from.Length > 0) sql.Append(" AND state IN (").Append(string.Join(", ", from.Select(s => "'" + s + "'"))).Append(')');
                sql.Append(" RETURNING ").Append(Columns).Append(';');
                command.CommandText = sql.ToString();
                Bind(command, "$id", channelId);
                Bind(command, "$now", ToUnixMs(now));
                bind?.Invoke(command);
                var updated = ReadSingle(command, now);
                if (updated != null) return updated;
                var current = Get(connection, channelId, now);
                throw current is null ? NotRecorded(channelId) : Refused(current, to ?? current.State);
            });
        }

        private IEnumerable<ChannelRecord> Stream(string sql, List<KeyValuePair<string, object?>> parameters, DateTimeOffset now)
        {
            ThrowIfDisposed();
            using var connection = Guard(OpenConnection);
            using var command = connection.CreateCommand();
            command.CommandText = sql;
            foreach (var parameter in parameters) Bind(command, parameter.Key, parameter.Value);
            using var reader = Guard(command.ExecuteReader);
            var read = new Func<bool>(reader.Read);
            while (Guard(read))
            {
                yield return ReadRecord(reader, now);
            }
        }

        private T Guard<T>(Func<T> step)
        {
            try
            {
                return step();
            }
            catch (SqliteException ex)
            {
                throw StoreFailure(ex);
            }
        }

        private static ChannelRecord? Get(SqliteConnection connection, string channelId, DateTimeOffset now)
        {
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT " + Columns + " FROM channels WHERE channel_id = $id;";
            Bind(command, "$id", channelId);
            return ReadSingle(command, now);
        }

        private static ChannelRecord? ReadSingle(SqliteCommand command, DateTimeOffset now)
        {
            using var reader = command.ExecuteReader();
            var record = reader.Read() ? ReadRecord(reader, now) : null;
            while (reader.Read())
            {
            }

            return record;
        }

        /// <summary>One row in <see cref="Columns"/> order; Active past its expiration at <paramref name="now"/> reads as Expired.</summary>
        private static ChannelRecord ReadRecord(SqliteDataReader reader, DateTimeOffset now)
        {
            var stored = ParseState(reader.GetString(1));
            var expiration = FromUnixMs(reader, 13);
            return new ChannelRecord
            {
                ChannelId = reader.GetString(0),
                State = stored == ChannelState.Active && expiration is DateTimeOffset at && at <= now ? ChannelState.Expired : stored,
                CalendarId = reader.GetString(2),
                Resource = ParseResource(reader.GetString(3)),
                Address = reader.GetString(4),
                Token = reader.IsDBNull(5) ? null : reader.GetString(5),
                EventTypes = reader.GetString(6),
                Account = reader.IsDBNull(7) ? null : reader.GetString(7),
                Subject = reader.IsDBNull(8) ? null : reader.GetString(8),
                TimeToLive = reader.IsDBNull(9) ? null : TimeSpan.FromSeconds(reader.GetInt64(9)),
                ExpiresAt = FromUnixMs(reader, 10),
                ResourceId = reader.IsDBNull(11) ? null : reader.GetString(11),
                ResourceUri = reader.IsDBNull(12) ? null : reader.GetString(12),
                Expiration = expiration,
                CreatedAt = FromUnixMs(reader, 14) ?? default,
                UpdatedAt = FromUnixMs(reader, 15) ?? default,
                LastError = reader.IsDBNull(16) ? null : reader.GetString(16),
                ReplacedBy = reader.IsDBNull(17) ? null : reader.GetString(17),
                Replaces = reader.IsDBNull(18) ? null : reader.GetString(18),
            };
        }

        private static ChannelState ParseState(string text) => text switch
        {
            "Pending" => ChannelState.Pending,
            "Active" => ChannelState.Active,
            "MayExist" => ChannelState.MayExist,
            "Failed" => ChannelState.Failed,
            "Stopped" => ChannelState.Stopped,
            "Replaced" => ChannelState.Replaced,
            _ => throw new CalendarWatchException("CalendarWatch.StoreUnreadable", FailureKind.InvalidResult, $"The channel record holds an unknown state '{text}'."),
        };

        private static WatchResource ParseResource(string text) => text switch
        {
            "Events" => WatchResource.Events,
            "Acl" => WatchResource.Acl,
            "CalendarList" => WatchResource.CalendarList,
            "Settings" => WatchResource.Settings,
            _ => throw new CalendarWatchException("CalendarWatch.StoreUnreadable", FailureKind.InvalidResult, $"The channel record holds an unknown resource '{text}'."),
        };

        /// <summary>SQL for "state is one of <paramref name="states"/>", with Active and Expired split at $now.</summary>
        private static string StateCondition(IEnumerable<ChannelState> states)
        {
            var stored = new List<string>();
            var parts = new List<string>();
            foreach (var state in states)
            {
                switch (state)
                {
                    case ChannelState.Active:
                        parts.Add("(state = 'Active' AND (expiration IS NULL OR expiration > $now))");
                        break;
                    case ChannelState.Expired:
                        parts.Add("(state = 'Active' AND expiration <= $now)");
                        break;
                    default:
                        stored.Add("'" + state + "'");
                        break;
                }
            }

            if (stored.Count > 0) parts.Insert(0, "state IN (" + string.Join(", ", stored) + ")");
            return string.Join(" OR ", parts);
        }

        private static void Bind(SqliteCommand command, string name, object? value) => command.Parameters.AddWithValue(name, value ?? DBNull.Value);

        private static long? ToUnixMs(DateTimeOffset? value) => value?.ToUnixTimeMilliseconds();

        private static DateTimeOffset WholeMilliseconds(DateTimeOffset value) => DateTimeOffset.FromUnixTimeMilliseconds(value.ToUnixTimeMilliseconds());

        internal static long WholeSeconds(TimeSpan value) => (long)Math.Ceiling(value.TotalSeconds);

        private static DateTimeOffset? FromUnixMs(SqliteDataReader reader, int ordinal) =>
            reader.IsDBNull(ordinal) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(ordinal));

        private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

        private static string Format(DateTimeOffset value) => value.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);

        private static void CheckId(string channelId, string name)
        {
            if (string.IsNullOrEmpty(channelId)) throw new ArgumentException("A channel id is needed.", name);
        }

        private DateTimeOffset Now() => _clock.GetUtcNow();

        private void ThrowIfDisposed()
        {
            if (_disposed) throw new ObjectDisposedException(nameof(ChannelStore), $"The channel record {Path} was closed.");
        }

        private static CalendarWatchException NotRecorded(string channelId) =>
            new CalendarWatchException("CalendarWatch.ChannelNotRecorded", FailureKind.ObjectNotFound,
                $"Channel '{channelId}' is not in the channel record.")
            {
                ChannelId = channelId,
            };

        private static CalendarWatchException Refused(ChannelRecord current, ChannelState to) =>
            new CalendarWatchException("CalendarWatch.ChannelStateConflict", FailureKind.NotSupported,
                $"Channel '{current.ChannelId}' is {current.State} in the channel record (since {Format(current.UpdatedAt)}) and cannot become {to}" +
                (current.State == ChannelState.Failed ? ": it never existed." : current.State == ChannelState.Active && to == ChannelState.Failed ? ": Google created it; stop it instead." : "."))
            {
                ChannelId = current.ChannelId,
                CalendarId = current.CalendarId,
                Address = current.Address,
                Subject = current.Subject,
            };

        private CalendarWatchException StoreFailure(SqliteException ex)
        {
            var code = ex.SqliteErrorCode;
            var text = ex.Message;
            return code switch
            {
                5 or 6 => new CalendarWatchException("CalendarWatch.StoreBusy", FailureKind.ResourceUnavailable,
                    $"The channel record {Path} stayed locked by another writer for more than {_busyTimeout.TotalSeconds:0.#} s ({text}). Try again; if it persists, look for a process that holds it in a transaction (an sqlite3 shell, a hung script).", ex)
                {
                    IsTransient = true,
                },
                11 or 26 => new CalendarWatchException("CalendarWatch.StoreUnreadable", FailureKind.InvalidResult,
                    $"The channel record {Path} is not a readable SQLite database ({text}). Move it aside and keep it (it may still name live channels), then run again to start a new record, or point CALENDARWATCH_STORE at another file.", ex),
                _ => new CalendarWatchException("CalendarWatch.StoreFailed", FailureKind.ResourceUnavailable,
                    $"The channel record {Path} could not be used: {text}", ex),
            };
        }
    }
}
