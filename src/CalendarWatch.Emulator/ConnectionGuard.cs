using System;
using System.Collections;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Threading;

namespace CalendarWatch.Emulator
{
    /// <summary>
    /// Time limits for connections no request handler owns: new ones, ones kept alive between requests, and ones still
    /// sending their request headers (<see cref="EmulatorOptions.IdleTimeout"/>). Request bodies and answers are timed by
    /// <see cref="HttpUtil"/> (<see cref="EmulatorOptions.BodyTimeout"/>).
    /// <para>
    /// Windows (HTTP.sys): <see cref="HttpListener.TimeoutManager"/> does it, and HTTP.sys refuses a Host it does not serve itself.
    /// </para>
    /// <para>
    /// Elsewhere .NET's managed HttpListener has no such limits (its own timer stops at the first byte received), and it answers a
    /// request for a Host it does not serve by itself, then drains that request's body synchronously on a thread-pool thread
    /// (HttpConnection.Close → HttpListenerRequest.FlushInput, up to a second per read), so a burst of them starves the pool and
    /// every other request waits. There the guard (1) adds a catch-all host to the emulator's own loopback endpoint, so that every
    /// request reaches the emulator, which refuses a wrong Host itself (<see cref="ServesEveryHost"/>) without blocking a thread; and
    /// (2) reads the listener's connection tables every IdleTimeout/4 (at least once a second) and closes a connection that has had no request in progress
    /// for IdleTimeout. Both use the listener's private fields; if they are not as expected, the guard does nothing and the
    /// listener behaves as it always did.
    /// </para>
    /// </summary>
    internal sealed class ConnectionGuard : IDisposable
    {
        private const BindingFlags Instance = BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public;
        private const BindingFlags Static = BindingFlags.Static | BindingFlags.NonPublic;

        private readonly HttpListener _listener;
        private readonly long _idleTicks;
        private readonly TimeSpan _scanInterval;
        private readonly ConditionalWeakTable<object, Track> _tracks = new ConditionalWeakTable<object, Track>();
        private readonly object _gate = new object();
        private Timer? _timer;
        private bool _disposed;

        // The managed listener's internals (null when not found).
        private object? _endpoint;                // HttpEndPointListener of 127.0.0.1:port
        private object? _catchAll;                // the ListenerPrefix "http://*:port/" added to it
        private MethodInfo? _removePrefix;
        private object? _unregistered;            // HttpEndPointListener._unregisteredConnections (a HashSet, or a Dictionary before .NET 10)
        private object? _registered;              // HttpListener._connections (a Dictionary)
        private FieldInfo? _socketField, _boundField, _contextField;

        private sealed class Track
        {
            public object? Phase;   // the HttpListenerContext the connection is reading (a new one per request)
            public long Since;      // Stopwatch timestamp when that phase was first seen
        }

        public ConnectionGuard(HttpListener listener, int port, EmulatorOptions options)
        {
            _listener = listener;
            _idleTicks = (long)(options.IdleTimeout.TotalSeconds * Stopwatch.Frequency);
            _scanInterval = TimeSpan.FromTicks(Math.Max(TimeSpan.FromMilliseconds(10).Ticks, Math.Min(TimeSpan.FromSeconds(1).Ticks, options.IdleTimeout.Ticks / 4)));
#if NET
            if (!OperatingSystem.IsWindows())
            {
                GuardManagedListener(port);
                return;
            }
#endif
            SetHttpSysTimeouts(listener, options);
        }

        private void GuardManagedListener(int port)
        {
            try
            {
                if (!FindManagedInternals(port)) return;
                ServesEveryHost = AddCatchAllHost(port);
                _timer = new Timer(_ => Scan(), null, _scanInterval, Timeout.InfiniteTimeSpan);
            }
            catch (Exception e) when (e is TargetInvocationException || e is TargetException || e is AmbiguousMatchException || e is MemberAccessException
                || e is TargetParameterCountException || e is InvalidCastException || e is ArgumentException || e is NotSupportedException || e is HttpListenerException)
            {
                // Internals not as expected: the listener keeps its own behaviour.
            }
        }

        /// <summary>
        /// True when the listener passes requests for every Host to the emulator, which must then refuse a Host it does not serve
        /// (HTTP.sys, and the managed listener without the guard, refuse it themselves).
        /// </summary>
        public bool ServesEveryHost { get; private set; }

#if NET
        [System.Runtime.Versioning.SupportedOSPlatform("windows")]
#endif
        private static void SetHttpSysTimeouts(HttpListener listener, EmulatorOptions options)
        {
            try
            {
                var timeouts = listener.TimeoutManager;
                timeouts.IdleConnection = WholeSeconds(options.IdleTimeout);
                timeouts.HeaderWait = WholeSeconds(options.IdleTimeout);
                timeouts.EntityBody = WholeSeconds(options.BodyTimeout);
                timeouts.DrainEntityBody = WholeSeconds(options.BodyTimeout);
            }
            catch (Exception e) when (e is PlatformNotSupportedException || e is ArgumentOutOfRangeException || e is HttpListenerException || e is ObjectDisposedException)
            {
                // HTTP.sys keeps its defaults (2 minutes each).
            }
        }

        /// <summary>HTTP.sys counts whole seconds; 0 would mean "its default".</summary>
        private static TimeSpan WholeSeconds(TimeSpan span) => TimeSpan.FromSeconds(Math.Max(1, Math.Ceiling(span.TotalSeconds)));

        private bool FindManagedInternals(int port)
        {
            var assembly = typeof(HttpListener).Assembly;
            var managerType = assembly.GetType("System.Net.HttpEndPointManager");
            var endpointType = assembly.GetType("System.Net.HttpEndPointListener");
            var connectionType = assembly.GetType("System.Net.HttpConnection");
            if (managerType == null || endpointType == null || connectionType == null) return false;

            var all = managerType.GetField("s_ipEndPoints", Static)?.GetValue(null) as IDictionary;
            var owner = endpointType.GetField("_listener", Instance);
            if (all == null || owner == null) return false;
            lock (((ICollection)all).SyncRoot)
            {
                foreach (DictionaryEntry address in all)
                {
                    if (address.Value is IDictionary ports && ports.Contains(port) && ReferenceEquals(owner.GetValue(ports[port]), _listener))
                    {
                        _endpoint = ports[port];
                        break;
                    }
                }
            }
            if (_endpoint == null) return false;

            _unregistered = endpointType.GetField("_unregisteredConnections", Instance)?.GetValue(_endpoint) as IEnumerable;
            _registered = typeof(HttpListener).GetField("_connections", Instance)?.GetValue(_listener) as IEnumerable;
            _socketField = connectionType.GetField("_socket", Instance);
            _boundField = connectionType.GetField("_contextBound", Instance);
            _contextField = connectionType.GetField("_context", Instance);
            return _unregistered != null && _registered != null && _socketField?.FieldType == typeof(Socket)
                && _boundField?.FieldType == typeof(bool) && _contextField != null;
        }

        /// <summary>Adds "http://*:port/" to the loopback endpoint only (never through HttpListener.Prefixes, which would listen on every interface).</summary>
        private bool AddCatchAllHost(int port)
        {
            var assembly = typeof(HttpListener).Assembly;
            var prefixType = assembly.GetType("System.Net.ListenerPrefix");
            var endpointType = _endpoint!.GetType();
            var add = endpointType.GetMethod("AddPrefix", Instance);
            var remove = endpointType.GetMethod("RemovePrefix", Instance);
            if (prefixType == null || add == null || remove == null) return false;
            var prefix = Activator.CreateInstance(prefixType, Instance, null, new object[] { "http://*:" + port.ToString(CultureInfo.InvariantCulture) + "/" }, CultureInfo.InvariantCulture);
            add.Invoke(_endpoint, Arguments(add, prefix));
            _catchAll = prefix;
            _removePrefix = remove;
            return true;
        }

        /// <summary>(prefix, listener) or (prefix): the endpoint's AddPrefix/RemovePrefix take one or the other, by .NET version.</summary>
        private object?[] Arguments(MethodInfo method, object? prefix) =>
            method.GetParameters().Length == 2 ? new[] { prefix, _listener } : new[] { prefix };

        private void Scan()
        {
            try
            {
                long now = Stopwatch.GetTimestamp();
                foreach (var connection in Snapshot())
                {
                    if (!(_socketField!.GetValue(connection) is Socket socket)) continue; // closed
                    var track = _tracks.GetValue(connection, _ => new Track());
                    if ((bool)_boundField!.GetValue(connection)!)
                    {
                        track.Phase = null; // a handler owns it, with its own time limits
                        continue;
                    }
                    var phase = _contextField!.GetValue(connection);
                    if (!ReferenceEquals(track.Phase, phase))
                    {
                        track.Phase = phase;
                        track.Since = now;
                    }
                    else if (now - track.Since >= _idleTicks)
                    {
                        try { socket.Dispose(); } // the listener's pending read fails and it cleans up the connection
                        catch (ObjectDisposedException) { }
                    }
                }
            }
            catch (Exception e) when (e is TargetException || e is InvalidOperationException || e is ArgumentException || e is ObjectDisposedException)
            {
                // a table changed shape under us: try again next time
            }
            finally
            {
                lock (_gate)
                {
                    if (!_disposed) _timer?.Change(_scanInterval, Timeout.InfiniteTimeSpan);
                }
            }
        }

        private List<object> Snapshot()
        {
            var result = new List<object>();
            AddConnections(_unregistered!, result);
            AddConnections(_registered!, result);
            return result;
        }

        /// <summary>The connections in one of the listener's tables, under the lock the listener takes on it (the table itself).</summary>
        private static void AddConnections(object table, List<object> into)
        {
            lock (table)
            {
                var items = table is IDictionary dictionary ? dictionary.Keys : (IEnumerable)table;
                foreach (var item in items) into.Add(item);
            }
        }

        /// <summary>
        /// Call before the listener stops. Takes the catch-all host away (or the listener's endpoint would stay bound), stops
        /// scanning, and closes every connection: HttpListener.Stop closes a connection whose request body is unread by draining
        /// it synchronously, up to a second per read, while it holds the lock every request's cleanup needs, so requests still
        /// in flight would hold it up and starve the thread pool. A closed socket fails those reads at once.
        /// </summary>
        public void Dispose()
        {
            lock (_gate)
            {
                if (_disposed) return;
                _disposed = true;
                _timer?.Dispose();
            }
            if (_catchAll != null)
            {
                try { _removePrefix!.Invoke(_endpoint, Arguments(_removePrefix, _catchAll)); }
                catch (Exception e) when (e is TargetInvocationException || e is TargetParameterCountException || e is ArgumentException) { }
            }
            if (_unregistered == null || _registered == null) return;
            try
            {
                foreach (var connection in Snapshot())
                {
                    if (_socketField!.GetValue(connection) is Socket socket)
                    {
                        try { socket.Dispose(); }
                        catch (ObjectDisposedException) { }
                    }
                }
            }
            catch (Exception e) when (e is TargetException || e is InvalidOperationException || e is ArgumentException)
            {
                // the listener closes what is left
            }
        }
    }
}
