using System;
using System.Collections.Generic;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Tasks;

namespace CalendarWatch.Emulator
{
    internal sealed class CalendarRecord
    {
        public CalendarRecord(string id, string owner, bool watchable) { Id = id; Owner = owner; Watchable = watchable; }
        public string Id { get; }
        public string Owner { get; set; }
        public bool Watchable { get; set; }
        public Dictionary<string, EventRecord> Events { get; } = new Dictionary<string, EventRecord>(StringComparer.Ordinal);
        public Dictionary<string, AclRuleRecord> Acl { get; } = new Dictionary<string, AclRuleRecord>(StringComparer.Ordinal);
    }

    internal sealed class EventRecord
    {
        public EventRecord(string id, JsonObject body) { Id = id; Body = body; }
        public string Id { get; }
        public JsonObject Body { get; set; }
        public bool Deleted { get; set; }
        public string EventType => Body["eventType"] is JsonValue v && v.TryGetValue(out string? s) && s != null ? s : "default";
    }

    internal sealed class AclRuleRecord
    {
        public AclRuleRecord(string id, string role, string scopeType, string? scopeValue) { Id = id; Role = role; ScopeType = scopeType; ScopeValue = scopeValue; }
        public string Id { get; }
        public string Role { get; set; }
        public string ScopeType { get; }
        public string? ScopeValue { get; }
    }

    internal sealed class ServiceAccountRecord
    {
        public ServiceAccountRecord(string clientEmail, RSAParameters key, HashSet<string> subjects, HashSet<string> scopes, string clientId)
        { ClientEmail = clientEmail; Key = key; Subjects = subjects; Scopes = scopes; ClientId = clientId; }
        public string ClientEmail { get; }
        public RSAParameters Key { get; }
        public HashSet<string> Subjects { get; }
        public HashSet<string> Scopes { get; }
        public string ClientId { get; }
    }

    internal sealed class UserRecord
    {
        public UserRecord(string email, string clientId, string clientSecret, string refreshToken)
        { Email = email; ClientId = clientId; ClientSecret = clientSecret; RefreshToken = refreshToken; }
        public string Email { get; }
        public string ClientId { get; }
        public string ClientSecret { get; }
        public string RefreshToken { get; }
    }

    /// <summary>The authenticated caller of one API request.</summary>
    internal sealed class Caller
    {
        public Caller(string principal, string? subject, string clientId, bool isServiceAccount, HashSet<string>? scopes)
        { Principal = principal; Subject = subject; ClientId = clientId; IsServiceAccount = isServiceAccount; Scopes = scopes; }
        public string Principal { get; }
        public string? Subject { get; }
        public string ClientId { get; }
        public bool IsServiceAccount { get; }
        /// <summary>null = every scope (no-auth mode).</summary>
        public HashSet<string>? Scopes { get; }
    }

    internal sealed class AccessTokenRecord
    {
        public AccessTokenRecord(Caller caller, DateTimeOffset expires) { Caller = caller; Expires = expires; }
        public Caller Caller { get; }
        public DateTimeOffset Expires { get; }
    }

    internal sealed class ChannelRecord
    {
        public ChannelRecord(EmulatedChannel data) { Data = data; }
        public EmulatedChannel Data { get; }
        public bool Stopped { get; set; }
        public long LastMessageNumber { get; set; }
        /// <summary>Deliveries to one channel run one after the other, in message-number order.</summary>
        public Task Chain { get; set; } = Task.CompletedTask;
    }

    /// <summary>Everything the emulator knows. All access holds <see cref="Gate"/>.</summary>
    internal sealed class EmulatorState
    {
        public static readonly string[] AllCalendarScopes =
        {
            "https://www.googleapis.com/auth/calendar",
            "https://www.googleapis.com/auth/calendar.acls",
            "https://www.googleapis.com/auth/calendar.acls.readonly",
            "https://www.googleapis.com/auth/calendar.app.created",
            "https://www.googleapis.com/auth/calendar.calendarlist",
            "https://www.googleapis.com/auth/calendar.calendarlist.readonly",
            "https://www.googleapis.com/auth/calendar.calendars",
            "https://www.googleapis.com/auth/calendar.calendars.readonly",
            "https://www.googleapis.com/auth/calendar.events",
            "https://www.googleapis.com/auth/calendar.events.freebusy",
            "https://www.googleapis.com/auth/calendar.events.owned",
            "https://www.googleapis.com/auth/calendar.events.owned.readonly",
            "https://www.googleapis.com/auth/calendar.events.public.readonly",
            "https://www.googleapis.com/auth/calendar.events.readonly",
            "https://www.googleapis.com/auth/calendar.freebusy",
            "https://www.googleapis.com/auth/calendar.readonly",
            "https://www.googleapis.com/auth/calendar.settings.readonly",
        };

        private readonly EmulatorOptions _options;
        private TimeSpan _clockOffset;

        public EmulatorState(EmulatorOptions options)
        {
            _options = options;
            Faults = InitialFaults();
            Random = Faults.Seed is int seed ? new Random(seed) : new Random();
            if (options.NoAuth) EnsureCalendar(EmulatorOptions.NoAuthPrincipal, EmulatorOptions.NoAuthPrincipal, true);
        }

        public object Gate { get; } = new object();
        public EmulatorFaults Faults { get; private set; }
        public Random Random { get; private set; }
        public Dictionary<string, CalendarRecord> Calendars { get; } = new Dictionary<string, CalendarRecord>(StringComparer.OrdinalIgnoreCase);
        public Dictionary<string, ChannelRecord> Channels { get; } = new Dictionary<string, ChannelRecord>(StringComparer.Ordinal);
        public List<ChannelRecord> ChannelOrder { get; } = new List<ChannelRecord>();
        public HashSet<string> UsedChannelIds { get; } = new HashSet<string>(StringComparer.Ordinal);
        public List<EmulatedDelivery> Deliveries { get; } = new List<EmulatedDelivery>();
        public Dictionary<string, ServiceAccountRecord> ServiceAccounts { get; } = new Dictionary<string, ServiceAccountRecord>(StringComparer.OrdinalIgnoreCase);
        public Dictionary<string, UserRecord> UsersByRefreshToken { get; } = new Dictionary<string, UserRecord>(StringComparer.Ordinal);
        public Dictionary<string, AccessTokenRecord> AccessTokens { get; } = new Dictionary<string, AccessTokenRecord>(StringComparer.Ordinal);
        public Dictionary<string, long> RequestsByMethod { get; } = new Dictionary<string, long>(StringComparer.Ordinal);
        public Dictionary<string, Dictionary<string, long>> TokenRequests { get; } = new Dictionary<string, Dictionary<string, long>>(StringComparer.Ordinal);
        public long DeliveryAttempts { get; set; }
        public Dictionary<string, Queue<DateTimeOffset>> UserWindows { get; } = new Dictionary<string, Queue<DateTimeOffset>>(StringComparer.OrdinalIgnoreCase);
        public Queue<DateTimeOffset> ProjectWindow { get; } = new Queue<DateTimeOffset>();
        public int NextEventNumber { get; set; }

        public DateTimeOffset Now { get { lock (Gate) return DateTimeOffset.UtcNow + _clockOffset; } }

        /// <summary>"1970-01-01T00:00:00Z to 9000-01-01T00:00:00Z": the clock's range as messages quote it.</summary>
        public static string ClockRange => Iso(CalendarEmulator.MinClock) + " to " + Iso(CalendarEmulator.MaxClock);

        public static string Iso(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);

        public void SetClock(DateTimeOffset now)
        {
            if (now < CalendarEmulator.MinClock || now > CalendarEmulator.MaxClock)
                throw new ArgumentOutOfRangeException(nameof(now), now, "The emulator clock must stay within " + ClockRange + ".");
            lock (Gate) _clockOffset = now - DateTimeOffset.UtcNow;
        }

        public void AdvanceClock(TimeSpan by)
        {
            lock (Gate)
            {
                // Compared as spans from now, so that no sum can overflow.
                var now = DateTimeOffset.UtcNow + _clockOffset;
                if (by > CalendarEmulator.MaxClock - now || by < CalendarEmulator.MinClock - now)
                    throw new ArgumentOutOfRangeException(nameof(by), by, "The emulator clock must stay within " + ClockRange + ".");
                _clockOffset += by;
            }
        }

        /// <summary>How far the clock may move now, in seconds: (back, forward).</summary>
        public (double Back, double Forward) ClockLeeway()
        {
            var now = Now;
            return ((CalendarEmulator.MinClock - now).TotalSeconds, (CalendarEmulator.MaxClock - now).TotalSeconds);
        }

        public void SetFaults(EmulatorFaults faults)
        {
            if (faults == null) throw new ArgumentNullException(nameof(faults));
            var copy = faults.Clone();
            copy.Validate();
            lock (Gate)
            {
                Faults = copy;
                if (copy.Seed is int seed) Random = new Random(seed);
            }
        }

        public void Reset()
        {
            lock (Gate)
            {
                foreach (var c in ChannelOrder) c.Stopped = true; // pending retries of old channels stop
                Calendars.Clear(); Channels.Clear(); ChannelOrder.Clear(); UsedChannelIds.Clear(); Deliveries.Clear();
                ServiceAccounts.Clear(); UsersByRefreshToken.Clear(); AccessTokens.Clear();
                RequestsByMethod.Clear(); TokenRequests.Clear(); DeliveryAttempts = 0;
                UserWindows.Clear(); ProjectWindow.Clear(); NextEventNumber = 0;
                _clockOffset = TimeSpan.Zero;
                Faults = InitialFaults();
                Random = Faults.Seed is int seed ? new Random(seed) : new Random();
                if (_options.NoAuth) EnsureCalendar(EmulatorOptions.NoAuthPrincipal, EmulatorOptions.NoAuthPrincipal, true);
            }
        }

        private EmulatorFaults InitialFaults()
        {
            var f = (_options.Faults ?? new EmulatorFaults()).Clone();
            if (f.Latency == TimeSpan.Zero) f.Latency = _options.Latency;
            f.Validate();
            return f;
        }

        /// <summary>Creates the calendar unless it exists. Caller holds the gate or not (re-entrant).</summary>
        public CalendarRecord EnsureCalendar(string id, string owner, bool watchable)
        {
            lock (Gate)
            {
                if (!Calendars.TryGetValue(id, out var cal))
                {
                    cal = new CalendarRecord(id, owner, watchable);
                    Calendars[id] = cal;
                }
                return cal;
            }
        }

        public void CreateCalendar(string id, string owner, bool watchable)
        {
            if (string.IsNullOrEmpty(id)) throw new ArgumentException("A calendar id is required.", nameof(id));
            if (string.IsNullOrEmpty(owner)) throw new ArgumentException("An owner is required.", nameof(owner));
            lock (Gate)
            {
                // The owner's primary calendar (id = the owner's email) comes with the owner.
                EnsureCalendar(owner, owner, true);
                var cal = EnsureCalendar(id, owner, watchable);
                cal.Owner = owner;
                cal.Watchable = watchable;
            }
        }

        /// <summary>Owner, or anyone named by a user-scoped ACL rule with a role other than "none".</summary>
        public static bool CanSee(CalendarRecord cal, string principal) =>
            string.Equals(cal.Owner, principal, StringComparison.OrdinalIgnoreCase) || RoleOf(cal, principal) != null;

        /// <summary>The ACL role granted to a principal by a user rule, or null.</summary>
        public static string? RoleOf(CalendarRecord cal, string principal)
        {
            if (string.Equals(cal.Owner, principal, StringComparison.OrdinalIgnoreCase)) return "owner";
            foreach (var rule in cal.Acl.Values)
                if (rule.ScopeType == "user" && rule.Role != "none" && string.Equals(rule.ScopeValue, principal, StringComparison.OrdinalIgnoreCase))
                    return rule.Role;
            return null;
        }

        public static bool IsUnwatchableId(string id) =>
            id.IndexOf("#holiday@", StringComparison.OrdinalIgnoreCase) >= 0 || id.IndexOf("#contacts@", StringComparison.OrdinalIgnoreCase) >= 0;

        /// <summary>A stable opaque id per (project, resource, collection owner).</summary>
        public string ResourceIdFor(string resource, string key)
        {
            using (var sha = SHA256.Create())
            {
                var hash = sha.ComputeHash(Encoding.UTF8.GetBytes(_options.ProjectNumber + "\n" + resource + "\n" + key));
                const string alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
                var sb = new StringBuilder(27);
                for (int i = 0; i < 27; i++) sb.Append(alphabet[hash[i] % alphabet.Length]);
                return sb.ToString();
            }
        }

        public EmulatedChannel SnapshotChannel(ChannelRecord record, DateTimeOffset now)
        {
            var copy = record.Data.Copy();
            copy.State = record.Stopped ? "stopped" : record.Data.Expiration <= now ? "expired" : "active";
            return copy;
        }

        public IReadOnlyList<EmulatedChannel> SnapshotChannels()
        {
            lock (Gate)
            {
                var now = Now;
                return ChannelOrder.Select(c => SnapshotChannel(c, now)).ToList();
            }
        }

        public IReadOnlyList<EmulatedDelivery> SnapshotDeliveries()
        {
            lock (Gate) return Deliveries.Select(d => d.Copy()).ToList();
        }

        public EmulatorStats SnapshotStats()
        {
            lock (Gate)
            {
                var byClient = new Dictionary<string, long>(StringComparer.Ordinal);
                var byClientSubject = new Dictionary<string, IReadOnlyDictionary<string, long>>(StringComparer.Ordinal);
                foreach (var pair in TokenRequests)
                {
                    byClient[pair.Key] = pair.Value.Values.Sum();
                    byClientSubject[pair.Key] = new Dictionary<string, long>(pair.Value, StringComparer.Ordinal);
                }
                return new EmulatorStats
                {
                    RequestsByMethod = new Dictionary<string, long>(RequestsByMethod, StringComparer.Ordinal),
                    TokenRequestsByClient = byClient,
                    TokenRequestsByClientAndSubject = byClientSubject,
                    DeliveryAttempts = DeliveryAttempts,
                };
            }
        }

        public void CountRequest(string method)
        {
            lock (Gate) RequestsByMethod[method] = RequestsByMethod.TryGetValue(method, out var n) ? n + 1 : 1;
        }

        public void CountTokenRequest(string client, string? subject)
        {
            lock (Gate)
            {
                if (!TokenRequests.TryGetValue(client, out var bySubject))
                    TokenRequests[client] = bySubject = new Dictionary<string, long>(StringComparer.Ordinal);
                var key = subject ?? "";
                bySubject[key] = bySubject.TryGetValue(key, out var n) ? n + 1 : 1;
            }
        }

        public string IssueAccessToken(Caller caller, TimeSpan lifetime)
        {
            var bytes = new byte[32];
            using (var rng = RandomNumberGenerator.Create()) rng.GetBytes(bytes);
            var token = "ya29.emu-" + Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
            lock (Gate) AccessTokens[token] = new AccessTokenRecord(caller, Now + lifetime);
            return token;
        }

        /// <summary>The caller behind a principal for test-issued tokens: a registered service account or user, else a plain user.</summary>
        public Caller CallerFor(string principal, IEnumerable<string> scopes)
        {
            var set = new HashSet<string>(scopes, StringComparer.Ordinal);
            lock (Gate)
            {
                if (ServiceAccounts.TryGetValue(principal, out var sa)) return new Caller(sa.ClientEmail, null, sa.ClientId, true, set);
                var user = UsersByRefreshToken.Values.FirstOrDefault(u => string.Equals(u.Email, principal, StringComparison.OrdinalIgnoreCase));
                return new Caller(principal, null, user?.ClientId ?? "emulator-test-client", false, set);
            }
        }

        /// <summary>Checks and records one request against the sliding windows; null when admitted.</summary>
        public GoogleApiException? CheckRateLimits(string principal)
        {
            lock (Gate)
            {
                var now = Now;
                var faults = Faults;
                var cutoff = now - faults.RateLimitWindow;
                if (!UserWindows.TryGetValue(principal, out var user)) UserWindows[principal] = user = new Queue<DateTimeOffset>();
                Trim(user, cutoff);
                Trim(ProjectWindow, cutoff);
                if (faults.UserRateLimit is int userLimit && user.Count >= userLimit)
                    return faults.UserRateLimitStatus == "429" ? GoogleErrors.TooManyRequests(faults.RetryAfterSeconds) : GoogleErrors.UserRateLimit403();
                if (faults.ProjectRateLimit is int projectLimit && ProjectWindow.Count >= projectLimit)
                    return GoogleErrors.ProjectRateLimit403();
                user.Enqueue(now);
                ProjectWindow.Enqueue(now);
                return null;
            }
        }

        private static void Trim(Queue<DateTimeOffset> window, DateTimeOffset cutoff)
        {
            // A clock set backwards leaves later stamps in the queue; they drop out once the clock passes them again.
            while (window.Count > 0 && window.Peek() <= cutoff) window.Dequeue();
        }

        /// <summary>Rolls the fault dice once; returns the fault name or null.</summary>
        public bool Roll(double rate)
        {
            if (rate <= 0) return false;
            lock (Gate) return Random.NextDouble() < rate;
        }
    }
}
