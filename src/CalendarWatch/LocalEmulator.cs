using System;
using System.Collections;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Management.Automation;
using System.Reflection;
using System.Security;
using System.Threading;
using CalendarWatch.Emulator;

namespace CalendarWatch
{
    /// <summary>
    /// What Start-CalendarWatchEmulator writes: the emulator running in this PowerShell process, its addresses, and the
    /// methods a script or a Pester test drives it with (make changes, set faults and the clock, read channels and
    /// deliveries). `Connect-CalendarWatch -Emulator $emulator` takes it (it converts to its <see cref="Address"/>).
    /// </summary>
    public sealed class LocalEmulator : IDisposable
    {
        private static readonly ConcurrentDictionary<LocalEmulator, bool> Running = new ConcurrentDictionary<LocalEmulator, bool>();
        private readonly CalendarEmulator _emulator;
        private int _stopped;

        internal LocalEmulator(CalendarEmulator emulator, bool noAuth, bool allowHttp)
        {
            _emulator = emulator;
            NoAuth = noAuth;
            AllowHttp = allowHttp;
            Running[this] = true;
        }

        /// <summary>The emulator's root, e.g. http://127.0.0.1:54321/ (what Connect-CalendarWatch -Emulator takes).</summary>
        public Uri Address => _emulator.BaseUri;

        /// <summary>The TCP port on loopback.</summary>
        public int Port => _emulator.BaseUri.Port;

        /// <summary>What Connect-CalendarWatch -ApiEndpoint takes for this emulator: the root under which the API answers at calendar/v3/.</summary>
        public Uri ApiEndpoint => _emulator.BaseUri;

        /// <summary>The OAuth token endpoint (Address + token), for a key file's token_uri.</summary>
        public Uri TokenUri => _emulator.TokenUri;

        /// <summary>A webhook address on the emulator itself that answers 200 to every notification: point channels here
        /// when no receiver of your own runs, and read what was sent with <see cref="GetDeliveries"/>.</summary>
        public Uri SinkAddress => new Uri(_emulator.BaseUri, "emulator/v1/sink");

        /// <summary>Started with -NoAuth: any token or none is accepted, the caller is user@example.com.</summary>
        public bool NoAuth { get; }

        /// <summary>Started with -AllowHttp: http:// channel addresses are accepted.</summary>
        public bool AllowHttp { get; }

        /// <summary>False once stopped.</summary>
        public bool IsRunning => Volatile.Read(ref _stopped) == 0;

        /// <summary>The emulator clock (real time plus the offset SetClock/AdvanceClock set).</summary>
        public DateTimeOffset Now => _emulator.Now;

        /// <summary>The address, so that the object converts to [Uri] and [string].</summary>
        public override string ToString() => _emulator.BaseUri.AbsoluteUri;

        /// <summary>The address as a <see cref="Uri"/> (what the implicit conversion gives).</summary>
        public Uri ToUri() => _emulator.BaseUri;

        /// <summary>Lets `Connect-CalendarWatch -Emulator $emulator` and other [Uri] parameters take the object.</summary>
        public static implicit operator Uri(LocalEmulator emulator) => (emulator ?? throw new ArgumentNullException(nameof(emulator))).ToUri();

        /// <summary>Creates (or updates) a calendar. Without an owner: user@example.com, the caller under -NoAuth.</summary>
        public void NewCalendar(string id, string owner = EmulatorOptions.NoAuthPrincipal, bool watchable = true)
        {
            if (string.IsNullOrEmpty(id)) throw new ArgumentException("A calendar id is required.", nameof(id));
            if (string.IsNullOrEmpty(owner)) throw new ArgumentException("An owner (an email address) is required.", nameof(owner));
            Live().CreateCalendar(id, owner, watchable);
        }

        /// <summary>Inserts an event as the calendar's owner (its events channels get "exists"); returns the event id.</summary>
        public string InsertEvent(string calendarId, string? summary = null, string? eventType = null, string? eventId = null)
            => Live().InsertEvent(calendarId, Given(summary), Given(eventType), Given(eventId));

        /// <summary>Changes an event's summary and/or eventType as the calendar's owner.</summary>
        public void PatchEvent(string calendarId, string eventId, string? summary = null, string? eventType = null)
            => Live().PatchEvent(calendarId, eventId, Given(summary), Given(eventType));

        /// <summary>Deletes an event as the calendar's owner.</summary>
        public void RemoveEvent(string calendarId, string eventId) => Live().DeleteEvent(calendarId, eventId);

        /// <summary>Adds an ACL rule (or changes its role) as the calendar's owner; returns the rule id ("user:alice@example.com").</summary>
        public string AddAclRule(string calendarId, string role, string scopeType, string? scopeValue = null)
            => Live().InsertAclRule(calendarId, role, scopeType, Given(scopeValue));

        /// <summary>Removes an ACL rule by id ("user:alice@example.com") as the calendar's owner.</summary>
        public void RemoveAclRule(string calendarId, string ruleId) => Live().DeleteAclRule(calendarId, ruleId);

        /// <summary>Every channel since start or reset, in creation order (a snapshot).</summary>
        public EmulatedChannel[] GetChannels() => _emulator.Channels.ToArray();

        /// <summary>Every notification since start or reset, with its headers, status code and outcome (a snapshot).</summary>
        public EmulatedDelivery[] GetDeliveries() => _emulator.Deliveries.ToArray();

        /// <summary>Counters: requests per API method, token requests, delivery attempts.</summary>
        public EmulatorStats GetStats() => _emulator.Stats;

        /// <summary>
        /// Waits, woken by each delivery change (no polling), until at least <paramref name="count"/> notifications have an
        /// answer (delivered, failed or gave up); returns every delivery then. <see cref="TimeoutException"/> after
        /// <paramref name="timeout"/>, saying how many there were.
        /// </summary>
        public EmulatedDelivery[] WaitForDeliveries(int count, TimeSpan timeout) => WaitForDeliveries(count, timeout, null);

        /// <summary>The same, counting only the notifications of channel <paramref name="channelId"/> (all when null).</summary>
        public EmulatedDelivery[] WaitForDeliveries(int count, TimeSpan timeout, string? channelId)
        {
            if (count < 0) throw new ArgumentOutOfRangeException(nameof(count), count, "count must be 0 or more.");
            if (timeout < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "timeout must not be negative.");
            Func<IReadOnlyList<EmulatedDelivery>, int> answered = list => list.Count(d =>
                (channelId == null || d.ChannelId == channelId) && (d.Outcome == "delivered" || d.Outcome == "failed" || d.Outcome == "gaveUp"));
            var ok = Live().WaitForDeliveriesAsync(list => answered(list) >= count, timeout).GetAwaiter().GetResult();
            var all = _emulator.Deliveries.ToArray();
            if (!ok)
            {
                throw new TimeoutException(string.Format(CultureInfo.InvariantCulture,
                    "{0} of the {1} notifications waited for{2} had an answer after {3}: is the receiver running, and is the channel's address right?",
                    answered(all), count, channelId == null ? "" : " (channel '" + channelId + "')", timeout));
            }
            return all;
        }

        /// <summary>The fault knobs in force (a copy).</summary>
        public EmulatorFaults GetFaults() => _emulator.Faults;

        /// <summary>
        /// Replaces every fault knob at once (missing ones take their defaults), from a hashtable such as
        /// @{ Error503Rate = 0.2; UserRateLimit = 5; LatencyMs = 100 }. An unknown key or a value out of range changes nothing
        /// and is an <see cref="ArgumentException"/> that names it.
        /// </summary>
        public void SetFaults(IDictionary faults) => Live().SetFaults(ToFaults(faults));

        /// <summary>Clears every fault knob (latency 0, no rate limits, no injected errors).</summary>
        public void ClearFaults() => Live().SetFaults(new EmulatorFaults());

        /// <summary>Sets the emulator clock (it keeps moving from there).</summary>
        public void SetClock(DateTimeOffset now) => Live().SetClock(now);

        /// <summary>Moves the emulator clock forward (or back, for a negative span): channels expire on it.</summary>
        public void AdvanceClock(TimeSpan by) => Live().AdvanceClock(by);

        /// <summary>Forgets every calendar, account, channel, delivery and counter; clock and faults back to the start.</summary>
        public void Reset() => Live().Reset();

        /// <summary>
        /// An access token for <paramref name="principal"/> (a user's email, or a registered service account's) with every
        /// Calendar scope, as a SecureString for `Connect-CalendarWatch -AccessToken ... -ApiEndpoint $emulator.ApiEndpoint`
        /// against an emulator started with auth. The user's primary calendar is created with it.
        /// </summary>
        public SecureString NewAccessToken(string principal)
        {
            if (string.IsNullOrEmpty(principal)) throw new ArgumentException("A principal (an email address) is required.", nameof(principal));
            var emulator = Live();
            emulator.CreateCalendar(principal, principal, true);
            var token = emulator.IssueAccessToken(principal, EmulatorScopes);
            var secure = new SecureString();
            foreach (var c in token) secure.AppendChar(c);
            secure.MakeReadOnly();
            return secure;
        }

        /// <summary>Stops listening; pending deliveries are abandoned. Stopping twice does nothing.</summary>
        public void Stop()
        {
            if (Interlocked.Exchange(ref _stopped, 1) != 0) return;
            Running.TryRemove(this, out _);
            _emulator.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }

        /// <summary>The same as <see cref="Stop"/>.</summary>
        public void Dispose() => Stop();

        /// <summary>Every emulator this process started and has not stopped.</summary>
        internal static LocalEmulator[] AllRunning() => Running.Keys.ToArray();

        private CalendarEmulator Live()
        {
            if (!IsRunning)
                throw new InvalidOperationException("This emulator (" + ToString() + ") was stopped: start another with Start-CalendarWatchEmulator.");
            return _emulator;
        }

        /// <summary>PowerShell passes $null to a string parameter as "": both mean "not given".</summary>
        private static string? Given(string? value) => string.IsNullOrEmpty(value) ? null : value;

        private static readonly string[] EmulatorScopes = { "https://www.googleapis.com/auth/calendar" };

        /// <summary>The knobs a hashtable names: EmulatorFaults' properties, plus LatencyMs and RateLimitWindowSeconds.</summary>
        internal static EmulatorFaults ToFaults(IDictionary? values)
        {
            var faults = new EmulatorFaults();
            if (values == null) return faults;
            var properties = typeof(EmulatorFaults).GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite).ToArray();
            foreach (DictionaryEntry entry in values)
            {
                var key = Convert.ToString(entry.Key, CultureInfo.InvariantCulture) ?? "";
                var value = entry.Value is PSObject wrapped ? wrapped.BaseObject : entry.Value;
                try
                {
                    if (key.Equals("LatencyMs", StringComparison.OrdinalIgnoreCase))
                    {
                        faults.Latency = TimeSpan.FromMilliseconds(LanguagePrimitives.ConvertTo<double>(value));
                        continue;
                    }
                    if (key.Equals("RateLimitWindowSeconds", StringComparison.OrdinalIgnoreCase))
                    {
                        faults.RateLimitWindow = TimeSpan.FromSeconds(LanguagePrimitives.ConvertTo<double>(value));
                        continue;
                    }
                    var property = properties.FirstOrDefault(p => p.Name.Equals(key, StringComparison.OrdinalIgnoreCase));
                    if (property == null)
                    {
                        throw new ArgumentException("'" + key + "' is not a fault knob. Use " + string.Join(", ", properties.Select(p => p.Name))
                            + ", LatencyMs or RateLimitWindowSeconds.", key);
                    }
                    if (property.PropertyType == typeof(TimeSpan) && value != null && !(value is TimeSpan) && !(value is string))
                    {
                        // [TimeSpan] 50 is 50 ticks: ask for the unit instead of guessing it.
                        throw new ArgumentException("'" + key + "' takes a [TimeSpan] or a string such as '00:00:01'; for a number use "
                            + (property.Name == "Latency" ? "LatencyMs" : "RateLimitWindowSeconds") + ".", key);
                    }
                    var target = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
                    property.SetValue(faults, value == null ? null : LanguagePrimitives.ConvertTo(value, target, CultureInfo.InvariantCulture));
                }
                catch (PSInvalidCastException e)
                {
                    throw new ArgumentException("The fault knob '" + key + "' cannot take '" + value + "': " + e.Message, key, e);
                }
                catch (ArgumentOutOfRangeException e)
                {
                    throw new ArgumentException("The fault knob '" + key + "' cannot take '" + value + "': " + e.Message, key, e);
                }
            }
            return faults;
        }
    }
}
