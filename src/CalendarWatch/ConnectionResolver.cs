using System;
using CalendarWatch.Engine;

namespace CalendarWatch
{
    /// <summary>Where a command's connection came from (shown in -Verbose).</summary>
    public enum ConnectionSource
    {
        Explicit,
        Session,
        Environment,
    }

    /// <summary>
    /// The connection Connect-CalendarWatch stored for this PowerShell process. Whatever way a connection was made
    /// (emulator, access token, and later key files, domain-wide delegation, ADC) it is one
    /// <see cref="CalendarConnection"/> here, so the watch cmdlets never learn how it authenticates.
    /// </summary>
    public static class CalendarWatchSession
    {
        private static readonly object Gate = new object();
        private static CalendarConnection? _current;

        /// <summary>The stored connection, or null before Connect-CalendarWatch.</summary>
        public static CalendarConnection? Current
        {
            get
            {
                lock (Gate)
                {
                    return _current;
                }
            }
        }

        /// <summary>Stores a connection, disposing the one it replaces.</summary>
        public static void Set(CalendarConnection? connection)
        {
            CalendarConnection? previous;
            lock (Gate)
            {
                previous = _current;
                _current = connection;
            }

            if (previous != null && !ReferenceEquals(previous, connection))
            {
                previous.Dispose();
            }
        }
    }

    /// <summary>A connection a command uses, and whether the command must dispose it when it ends.</summary>
    public sealed class ResolvedConnection : IDisposable
    {
        internal ResolvedConnection(CalendarConnection connection, ConnectionSource source, bool owned)
        {
            Connection = connection;
            Source = source;
            Owned = owned;
        }

        public CalendarConnection Connection { get; }

        public ConnectionSource Source { get; }

        /// <summary>True when the command created it (from the environment) and disposes it.</summary>
        public bool Owned { get; }

        public void Dispose()
        {
            if (Owned)
            {
                Connection.Dispose();
            }
        }
    }

    /// <summary>
    /// The one place that decides which connection a command uses: an explicit connection, else the one
    /// Connect-CalendarWatch stored, else the emulator named by CALENDARWATCH_EMULATOR_HOST, else an error.
    /// </summary>
    public static class ConnectionResolver
    {
        public const string NotConnectedErrorId = "CalendarWatch.NotConnected";

        /// <exception cref="CalendarWatchException">Nothing to connect with (ErrorId CalendarWatch.NotConnected).</exception>
        /// <exception cref="ArgumentException">CALENDARWATCH_EMULATOR_HOST is set but malformed.</exception>
        public static ResolvedConnection Resolve(CalendarConnection? explicitConnection = null)
        {
            if (explicitConnection != null)
            {
                return new ResolvedConnection(explicitConnection, ConnectionSource.Explicit, owned: false);
            }

            var stored = CalendarWatchSession.Current;
            if (stored != null)
            {
                return new ResolvedConnection(stored, ConnectionSource.Session, owned: false);
            }

            var fromEnvironment = CalendarConnection.FromEnvironment();
            if (fromEnvironment != null)
            {
                return new ResolvedConnection(fromEnvironment, ConnectionSource.Environment, owned: true);
            }

            throw new CalendarWatchException(NotConnectedErrorId, FailureKind.AuthenticationError,
                $"Not connected: run Connect-CalendarWatch (with -AccessToken, or -Emulator for a local emulator), or set {CalendarConnection.EmulatorHostVariable} to host:port.");
        }
    }
}
