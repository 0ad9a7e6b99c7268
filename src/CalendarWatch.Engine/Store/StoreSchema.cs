using System;
using Microsoft.Data.Sqlite;

namespace CalendarWatch.Engine.Store
{
    /// <summary>
    /// The channel record's schema, versioned with PRAGMA user_version and marked as CalendarWatch's with PRAGMA
    /// application_id. <see cref="Migrations"/>[n] takes a file from version n to n + 1; an empty file starts at 0.
    /// A file of a newer version than <see cref="Version"/> is refused, never changed.
    /// </summary>
    /// <remarks>
    /// Times are INTEGER Unix milliseconds, UTC (sqlite3: <c>datetime(expiration / 1000, 'unixepoch')</c>). The state is
    /// stored as its name; Expired is derived when reading (Active and expiration &lt;= now). Calendar ids, accounts and
    /// subjects compare case-insensitively (NOCASE), as Google's ids and email addresses do; channel ids exactly.
    /// </remarks>
    internal static class StoreSchema
    {
        /// <summary>"CWCH": tells a CalendarWatch record apart from any other SQLite file.</summary>
        public const int ApplicationId = 0x43574348;

        public static int Version => Migrations.Length;

        private static readonly string[] Migrations =
        {
            // 0 -> 1: one row per channel, and the indexes of the lifecycle commands' filters.
            @"CREATE TABLE channels (
                channel_id   TEXT    NOT NULL PRIMARY KEY,
                state        TEXT    NOT NULL,
                calendar_id  TEXT    NOT NULL COLLATE NOCASE,
                resource     TEXT    NOT NULL,
                address      TEXT    NOT NULL,
                token        TEXT,
                event_types  TEXT    NOT NULL DEFAULT '',
                account      TEXT    COLLATE NOCASE,
                subject      TEXT    COLLATE NOCASE,
                ttl_seconds  INTEGER,
                expires_at   INTEGER,
                resource_id  TEXT,
                resource_uri TEXT,
                expiration   INTEGER,
                created_at   INTEGER NOT NULL,
                updated_at   INTEGER NOT NULL,
                last_error   TEXT,
                replaced_by  TEXT,
                replaces     TEXT
            );
            CREATE INDEX channels_by_calendar ON channels (calendar_id, state, expiration);
            CREATE INDEX channels_by_state ON channels (state, expiration);
            CREATE INDEX channels_by_subject ON channels (subject);",
        };

        /// <summary>
        /// Switches the file to WAL and brings it to <see cref="Version"/>. A file already there is only read (no write
        /// lock, so many processes can open it at once); otherwise the check is repeated and the migrations run inside
        /// one IMMEDIATE transaction, so two processes opening a new file at once migrate it once. Throws for a newer
        /// or a foreign file, and leaves it as it is.
        /// </summary>
        public static void Migrate(SqliteConnection connection, string path)
        {
            // Read first: a newer or a foreign file is refused before anything in it changes.
            var current = Check(connection, null, path);
            using (var wal = connection.CreateCommand())
            {
                // Persistent in the file; a no-op once set. Cannot run inside a transaction.
                wal.CommandText = "PRAGMA journal_mode = WAL;";
                wal.ExecuteScalar();
            }

            if (current == Version)
            {
                return;
            }

            using var transaction = connection.BeginTransaction(deferred: false);
            var version = Check(connection, transaction, path);
            for (var next = version; next < Version; next++)
            {
                Execute(connection, transaction, Migrations[next]);
            }

            Execute(connection, transaction, "PRAGMA application_id = " + ApplicationId + "; PRAGMA user_version = " + Version + ";");
            transaction.Commit();
        }

        /// <summary>The file's schema version, after refusing a newer or a foreign file.</summary>
        private static long Check(SqliteConnection connection, SqliteTransaction? transaction, string path)
        {
            // The marks and the table count from one snapshot: read apart, another process's migration could commit in
            // between, and the file would look foreign (a version without the mark, or tables without a version).
            long applicationId, version, objects;
            using (var command = connection.CreateCommand())
            {
                command.Transaction = transaction;
                command.CommandText = "SELECT (SELECT application_id FROM pragma_application_id), (SELECT user_version FROM pragma_user_version), (SELECT count(*) FROM sqlite_master);";
                using var reader = command.ExecuteReader();
                reader.Read();
                applicationId = reader.GetInt64(0);
                version = reader.GetInt64(1);
                objects = reader.GetInt64(2);
            }

            if (applicationId != 0 && applicationId != ApplicationId)
            {
                throw Foreign(path, $"its application_id is 0x{applicationId:x8}");
            }

            if (applicationId == 0 && version != 0)
            {
                throw Foreign(path, $"its user_version is {version} but it bears no CalendarWatch mark");
            }

            if (version > Version)
            {
                throw new CalendarWatchException("CalendarWatch.StoreSchemaTooNew", FailureKind.NotSupported,
                    $"The channel record {path} has schema version {version}, written by a newer CalendarWatch; this one knows versions up to {Version}. " +
                    "Update the module (Update-PSResource CalendarWatch), or point CALENDARWATCH_STORE at another file. The file was left as it is.");
            }

            if (version == 0 && objects > 0)
            {
                throw Foreign(path, "it holds tables but no CalendarWatch schema");
            }

            return version;
        }

        private static void Execute(SqliteConnection connection, SqliteTransaction transaction, string sql)
        {
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = sql;
            command.ExecuteNonQuery();
        }

        private static CalendarWatchException Foreign(string path, string why) =>
            new CalendarWatchException("CalendarWatch.StoreNotRecognized", FailureKind.InvalidArgument,
                $"The file {path} is an SQLite database but not a CalendarWatch channel record ({why}). It was left as it is; point CALENDARWATCH_STORE at another file.");
    }
}
