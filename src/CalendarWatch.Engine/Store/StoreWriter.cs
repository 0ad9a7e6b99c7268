using System;
using Microsoft.Data.Sqlite;

namespace CalendarWatch.Engine.Store
{
    /// <summary>
    /// The connection a <see cref="ChannelStore"/> writes through, with the statements of its hot path (a Pending row, an
    /// Active mark, the transaction around them) built once and prepared on first use, so that a run of watches pays
    /// SQLite's parsing once rather than per channel. Not thread-safe: the store uses it under its write lock.
    /// </summary>
    internal sealed class StoreWriter : IDisposable
    {
        private readonly SqliteCommand _begin;
        private readonly SqliteCommand _commit;
        private readonly SqliteCommand _insert;
        private readonly SqliteParameter[] _insertValues;
        private readonly SqliteCommand _activate;
        private readonly SqliteParameter[] _activateValues;

        public StoreWriter(SqliteConnection connection)
        {
            Connection = connection;
            _begin = Command("BEGIN IMMEDIATE;");
            _commit = Command("COMMIT;");
            (_insert, _insertValues) = Command(
                "INSERT INTO channels (channel_id, state, calendar_id, resource, address, token, event_types, account, subject, ttl_seconds, expires_at, created_at, updated_at, replaces) " +
                "VALUES ($id, 'Pending', $calendar, $resource, $address, $token, $eventTypes, $account, $subject, $ttl, $expiresAt, $now, $now, $replaces);",
                "$id", "$calendar", "$resource", "$address", "$token", "$eventTypes", "$account", "$subject", "$ttl", "$expiresAt", "$now", "$replaces");
            (_activate, _activateValues) = Command(
                "UPDATE channels SET updated_at = $now, state = 'Active', " + ChannelStore.ActiveColumns + " WHERE channel_id = $id AND state IN ('Pending', 'MayExist', 'Active');",
                "$id", "$now", "$resourceId", "$resourceUri", "$expiration", "$token");
        }

        public SqliteConnection Connection { get; }

        /// <summary>True unless a transaction is open on the connection.</summary>
        public bool InAutocommit => SQLitePCL.raw.sqlite3_get_autocommit(Connection.Handle) != 0;

        public void Begin() => _begin.ExecuteNonQuery();

        public void Commit() => _commit.ExecuteNonQuery();

        /// <summary>Inserts <paramref name="record"/> as a Pending row; SQLITE_CONSTRAINT_PRIMARYKEY when its id is taken.</summary>
        public void Insert(ChannelRecord record)
        {
            Set(_insertValues,
                record.ChannelId, record.CalendarId, record.Resource.ToString(), record.Address, record.Token, record.EventTypes, record.Account, record.Subject,
                record.TimeToLive is TimeSpan ttl ? ChannelStore.WholeSeconds(ttl) : null, record.ExpiresAt?.ToUnixTimeMilliseconds(),
                record.CreatedAt.ToUnixTimeMilliseconds(), record.Replaces);
            _insert.ExecuteNonQuery();
        }

        /// <summary>Marks a Pending, MayExist or Active row Active with Google's answer; the rows changed (0 or 1).</summary>
        public int Activate(string channelId, Channel channel, DateTimeOffset now)
        {
            Set(_activateValues,
                channelId, now.ToUnixTimeMilliseconds(), channel.ResourceId, string.IsNullOrEmpty(channel.ResourceUri) ? null : channel.ResourceUri,
                channel.Expiration?.ToUnixTimeMilliseconds(), string.IsNullOrEmpty(channel.Token) ? null : channel.Token);
            return _activate.ExecuteNonQuery();
        }

        public void Dispose()
        {
            _begin.Dispose();
            _commit.Dispose();
            _insert.Dispose();
            _activate.Dispose();
            Connection.Dispose();
        }

        private SqliteCommand Command(string sql)
        {
            var command = Connection.CreateCommand();
            command.CommandText = sql;
            return command;
        }

        private (SqliteCommand, SqliteParameter[]) Command(string sql, params string[] names)
        {
            var command = Command(sql);
            var parameters = new SqliteParameter[names.Length];
            for (var i = 0; i < names.Length; i++) parameters[i] = command.Parameters.Add(new SqliteParameter { ParameterName = names[i] });
            return (command, parameters);
        }

        private static void Set(SqliteParameter[] parameters, params object?[] values)
        {
            for (var i = 0; i < values.Length; i++) parameters[i].Value = values[i] ?? DBNull.Value;
        }
    }
}
