using System;
using System.Management.Automation.Runspaces;
using System.Runtime.CompilerServices;
using CalendarWatch.Engine;
using CalendarWatch.Engine.Auth;

namespace CalendarWatch
{
    /// <summary>Where a command's connection came from (shown in -Verbose).</summary>
    internal enum ConnectionSource
    {
        Explicit,
        Session,
        Environment,
        ApplicationDefault,
    }

    /// <summary>
    /// The connection Connect-CalendarWatch stored, one per runspace (each PowerShell session, each
    /// ForEach-Object -Parallel runspace, each job): Disconnect-CalendarWatch in one runspace never disposes a
    /// connection another runspace is using. Whatever way a connection was made (emulator, access token, key file
    /// with domain-wide delegation, ADC) it is one <see cref="CalendarConnection"/> here, so the API cmdlets never
    /// learn how it authenticates. Internal: no public API hands out the live connection (or its tokens).
    /// Pipeline thread only (that is where <see cref="Runspace.DefaultRunspace"/> names the caller's runspace).
    /// </summary>
    internal static class CalendarWatchSession
    {
        private static readonly ConditionalWeakTable<Runspace, Slot> Slots = new ConditionalWeakTable<Runspace, Slot>();

        // Hosts that run commands without a default runspace (rare) share this one slot.
        private static readonly Slot NoRunspace = new Slot();

        /// <summary>The calling runspace's connection, or null before Connect-CalendarWatch (and after Disconnect-CalendarWatch).</summary>
        public static CalendarConnection? Current
        {
            get
            {
                var slot = SlotOfCaller();
                lock (slot)
                {
                    return slot.Connection;
                }
            }
        }

        /// <summary>
        /// Stores a connection for the calling runspace (null forgets it). The one it replaces is disposed unless it
        /// was handed out (Connect-CalendarWatch -PassThru): a script may still use that object as -Connection.
        /// </summary>
        /// <returns>The connection that was stored before, or null.</returns>
        public static CalendarConnection? Set(CalendarConnection? connection, bool handedOut)
        {
            var slot = SlotOfCaller();
            CalendarConnection? previous;
            bool previousHandedOut;
            lock (slot)
            {
                previous = slot.Connection;
                previousHandedOut = slot.HandedOut;
                slot.Connection = connection;
                slot.HandedOut = connection != null && handedOut;
            }

            if (previous != null && !previousHandedOut && !ReferenceEquals(previous, connection))
            {
                previous.Dispose();
            }

            return previous;
        }

        private static Slot SlotOfCaller()
        {
            var runspace = Runspace.DefaultRunspace;
            return runspace is null ? NoRunspace : Slots.GetValue(runspace, static _ => new Slot());
        }

        private sealed class Slot
        {
            public CalendarConnection? Connection { get; set; }

            public bool HandedOut { get; set; }
        }
    }

    /// <summary>A connection a command uses, and whether the command must dispose it when it ends.</summary>
    internal sealed class ResolvedConnection : IDisposable
    {
        internal ResolvedConnection(CalendarConnection connection, ConnectionSource source, bool owned)
        {
            Connection = connection;
            Source = source;
            Owned = owned;
        }

        public CalendarConnection Connection { get; }

        /// <summary>Why this connection was chosen, when the user did not choose it (a -Verbose line); null otherwise.</summary>
        public string? Note { get; internal set; }

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
    /// The one place that decides which connection a command uses: an explicit connection (-Connection), else the one
    /// Connect-CalendarWatch stored, else the emulator named by CALENDARWATCH_EMULATOR_HOST, else Application Default
    /// Credentials against Google (<see cref="ConnectionFactory.ConnectDefault"/>), else an error.
    /// </summary>
    internal static class ConnectionResolver
    {
        public const string NotConnectedErrorId = "CalendarWatch.NotConnected";

        /// <exception cref="CalendarWatchException">Nothing to connect with (ErrorId CalendarWatch.NotConnected, the ADC failure inside).</exception>
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

            CalendarConnection fallback;
            string why;
            try
            {
                fallback = ConnectionFactory.ConnectDefault(out why);
            }
            catch (CalendarWatchException ex)
            {
                // The ADC message names what was looked for and what to run; keep it, under one stable ErrorId.
                throw new CalendarWatchException(NotConnectedErrorId, FailureKind.AuthenticationError,
                    $"Not connected: Connect-CalendarWatch was not run, {CalendarConnection.EmulatorHostVariable} is not set, and Application Default Credentials could not be used. {ex.Message}", ex);
            }

            var source = fallback.Kind == ConnectionKind.Emulator ? ConnectionSource.Environment : ConnectionSource.ApplicationDefault;
            return new ResolvedConnection(fallback, source, owned: true) { Note = why };
        }
    }
}
