using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Net.Http;
using System.Threading;
using System.Threading.Tasks;
using Google.Apis.Auth.OAuth2;
using Google.Apis.Auth.OAuth2.Responses;

namespace CalendarWatch.Engine.Auth
{
    /// <summary>
    /// Tokens from Google.Apis.Auth, cached per (subject, scope set). Each key gets one credential object, created
    /// once (a <see cref="Lazy{T}"/> in a <see cref="ConcurrentDictionary{TKey,TValue}"/>); Google.Apis.Auth caches its
    /// token, refreshes it before expiry by its own clock and shares one in-flight fetch between concurrent callers.
    /// <para>
    /// A refused token (the API answered 401) replaces that key's credential object, so the next token is fetched
    /// anew — unless the key's credential has already moved past that token: refusals that arrive together (a burst
    /// of 401s for one expired token) share one replacement and one fetch. Each entry remembers the last token it
    /// handed out, so a replacement's own token, refused in turn (a key deleted right after a refresh), replaces it
    /// again and asks the token endpoint, which then says why (invalid_grant).
    /// </para>
    /// Never exposes a token, a refresh token or a key through <see cref="Account"/>, <see cref="ToString"/> or an
    /// exception message.
    /// </summary>
    public sealed class GoogleTokenSource : IAccessTokenSource
    {
        private readonly Func<string?, IReadOnlyList<string>, ITokenAccess> _createCredential;
        private readonly ConcurrentDictionary<string, Entry> _entries = new ConcurrentDictionary<string, Entry>(StringComparer.Ordinal);
        private readonly string _description;
        private readonly string? _clientId;
        private readonly bool _supportsSubject;

        /// <summary>
        /// A token source over any Google.Apis.Auth credential: <paramref name="createCredential"/> makes the
        /// credential for one (subject, normalized scopes) key; it is called once per key (and again after a refused token).
        /// </summary>
        /// <param name="account">The identity shown to people (an email, "user credentials"); never a secret.</param>
        /// <param name="clientId">The OAuth client ID, named in unauthorized_client messages.</param>
        /// <param name="supportsSubject">False for identities that cannot impersonate (user credentials, metadata server).</param>
        /// <param name="description">Shown by ToString, e.g. "service account x@y via https://oauth2.googleapis.com/token".</param>
        public GoogleTokenSource(Func<string?, IReadOnlyList<string>, ITokenAccess> createCredential, string? account, string? clientId, bool supportsSubject, string description)
        {
            _createCredential = createCredential ?? throw new ArgumentNullException(nameof(createCredential));
            Account = account;
            _clientId = clientId;
            _supportsSubject = supportsSubject;
            _description = description ?? nameof(GoogleTokenSource);
        }

        public string? Account { get; }

        public bool SupportsSubject => _supportsSubject;

        public async Task<string?> GetAccessTokenAsync(string? subject, IReadOnlyList<string> scopes, string? refusedToken, CancellationToken cancellationToken)
        {
            subject = NormalizeSubject(subject);
            var scopeSet = ScopeList.AsNormalized(scopes);
            if (scopeSet.Count == 0)
            {
                throw new CalendarWatchException("CalendarWatch.InvalidScope", FailureKind.InvalidArgument, "No OAuth scope was asked for. Give at least one scope, e.g. " + Scopes.EventsReadonly + ".");
            }

            if (subject != null && !_supportsSubject)
            {
                throw new CalendarWatchException("CalendarWatch.SubjectNotSupported", FailureKind.InvalidArgument,
                    $"Subject '{subject}' cannot be impersonated with {Account ?? _description}: only a service account with domain-wide delegation can act as another user. Connect with -KeyFile (a service account key), or leave -Subject out.")
                { Subject = subject };
            }

            var key = (subject ?? string.Empty) + "\n" + string.Join(" ", scopeSet);
            var entry = refusedToken != null ? AfterRefusal(key, subject, scopeSet, refusedToken) : _entries.TryGetValue(key, out var cached) ? cached : Add(key, subject, scopeSet);

            try
            {
                var credential = await WaitAsync(entry.Credential.Value, cancellationToken).ConfigureAwait(false);
                var token = await credential.GetAccessTokenForRequestAsync(null, cancellationToken).ConfigureAwait(false);
                if (string.IsNullOrEmpty(token))
                {
                    throw new CalendarWatchException("CalendarWatch.TokenRequestFailed", FailureKind.AuthenticationError,
                        $"The token endpoint answered without an access token for {Who(subject)}. Check the token endpoint (the key file's token_uri).")
                    { Subject = subject };
                }

                entry.LastToken = token;
                return token;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw;
            }
            catch (CalendarWatchException)
            {
                throw;
            }
            catch (Exception ex)
            {
                // A failed credential (creation or fetch) is not kept: the next call for this key starts afresh.
                ((ICollection<KeyValuePair<string, Entry>>)_entries).Remove(new KeyValuePair<string, Entry>(key, entry));
                throw AuthErrors.FromTokenFailure(ex, Account ?? _description, _clientId, subject, scopeSet, isServiceAccount: _supportsSubject);
            }
        }

        public override string ToString() => _description;

        // Apart from the lookup above, so the lambda's closure is allocated only when a key is new, not on every call.
        private Entry Add(string key, string? subject, IReadOnlyList<string> scopeSet) =>
            _entries.GetOrAdd(key, _ => NewEntry(subject, scopeSet, replaced: null));

        /// <summary>
        /// The entry to use after the API refused <paramref name="refused"/>: a new one, so that the token endpoint is
        /// asked — unless the key's entry no longer hands out that token (another call refused it first and replaced
        /// the entry, or the library refreshed it), in which case that entry serves.
        /// </summary>
        private Entry AfterRefusal(string key, string? subject, IReadOnlyList<string> scopeSet, string refused)
        {
            while (true)
            {
                _entries.TryGetValue(key, out var current);
                if (current != null && !string.Equals(current.LastToken, refused, StringComparison.Ordinal))
                {
                    return current;
                }

                var replacement = NewEntry(subject, scopeSet, replaced: current);
                if (current is null ? _entries.TryAdd(key, replacement) : _entries.TryUpdate(key, replacement, current))
                {
                    return replacement;
                }
            }
        }

        private Entry NewEntry(string? subject, IReadOnlyList<string> scopeSet, Entry? replaced) =>
            new Entry(new Lazy<Task<ITokenAccess>>(() => CreateAsync(subject, scopeSet, replaced), LazyThreadSafetyMode.ExecutionAndPublication));

        private async Task<ITokenAccess> CreateAsync(string? subject, IReadOnlyList<string> scopeSet, Entry? replaced)
        {
            var credential = _createCredential(subject, scopeSet);
            if (replaced != null && replaced.Credential.IsValueCreated && replaced.Credential.Value.Status == TaskStatus.RanToCompletion &&
                ReferenceEquals(Underlying(replaced.Credential.Value.Result), Underlying(credential)))
            {
                // The library handed back the same object (user credentials ignore scopes): its cached token is the
                // one the API refused, so make it fetch a new one explicitly.
                switch (Underlying(credential))
                {
                    case UserCredential user:
                        await user.RefreshTokenAsync(CancellationToken.None).ConfigureAwait(false);
                        break;
                    case ServiceCredential service:
                        await service.RequestAccessTokenAsync(CancellationToken.None).ConfigureAwait(false);
                        break;
                }
            }

            return credential;
        }

        private static object Underlying(ITokenAccess credential) => credential is GoogleCredential google ? google.UnderlyingCredential : credential;

        private static async Task<T> WaitAsync<T>(Task<T> task, CancellationToken cancellationToken)
        {
            if (task.IsCompleted || !cancellationToken.CanBeCanceled) return await task.ConfigureAwait(false);
            var cancelled = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            using (cancellationToken.Register(() => cancelled.TrySetResult(true)))
            {
                if (await Task.WhenAny(task, cancelled.Task).ConfigureAwait(false) != task)
                {
                    throw new OperationCanceledException(cancellationToken);
                }
            }

            return await task.ConfigureAwait(false);
        }

        private string Who(string? subject) => subject is null ? Account ?? _description : $"{subject} (through {Account ?? _description})";

        internal static string? NormalizeSubject(string? subject)
        {
            if (string.IsNullOrWhiteSpace(subject)) return null;
            var trimmed = subject!.Trim();
            if (trimmed.IndexOf('@') <= 0 || trimmed.IndexOf('@') == trimmed.Length - 1 || trimmed.Any(char.IsWhiteSpace))
            {
                throw new CalendarWatchException("CalendarWatch.InvalidSubject", FailureKind.InvalidArgument,
                    $"The subject '{trimmed}' is not an email address. -Subject names the Workspace user to act as, e.g. alice@example.com.")
                { Subject = trimmed };
            }

            return trimmed;
        }

        private sealed class Entry
        {
            private string? _lastToken;

            public Entry(Lazy<Task<ITokenAccess>> credential)
            {
                Credential = credential;
            }

            public Lazy<Task<ITokenAccess>> Credential { get; }

            /// <summary>The token this entry handed out last: a refusal of any other token is not news to it.</summary>
            public string? LastToken
            {
                get => Volatile.Read(ref _lastToken);
                set => Volatile.Write(ref _lastToken, value);
            }
        }
    }

    /// <summary>Scope lists: the cache key's normal form and short names.</summary>
    public static class ScopeList
    {
        /// <summary>Trimmed, completed, distinct and sorted (ordinal), so one scope set is one cache key.</summary>
        public static IReadOnlyList<string> Normalize(IEnumerable<string>? scopes)
        {
            if (scopes is null) return Array.Empty<string>();
            return scopes
                .Where(s => !string.IsNullOrWhiteSpace(s))
                .SelectMany(s => s.Split(new[] { ' ', ',' }, StringSplitOptions.RemoveEmptyEntries))
                .Select(Complete)
                .Distinct(StringComparer.Ordinal)
                .OrderBy(s => s, StringComparer.Ordinal)
                .ToArray();
        }

        /// <summary>
        /// <paramref name="scopes"/> itself when it already is in <see cref="Normalize"/>'s form (the per-method lists
        /// and a connection's normalized override are), else a normalized copy: a token lookup per request then
        /// allocates nothing for it.
        /// </summary>
        public static IReadOnlyList<string> AsNormalized(IReadOnlyList<string>? scopes)
        {
            if (scopes is null) return Array.Empty<string>();
            for (var i = 0; i < scopes.Count; i++)
            {
                var scope = scopes[i];
                if (string.IsNullOrEmpty(scope) || char.IsWhiteSpace(scope[0]) || char.IsWhiteSpace(scope[scope.Length - 1]) ||
                    scope.IndexOf(' ') >= 0 || scope.IndexOf(',') >= 0 || scope.IndexOf("://", StringComparison.Ordinal) < 0 ||
                    (i > 0 && string.CompareOrdinal(scopes[i - 1], scope) >= 0))
                {
                    return Normalize(scopes);
                }
            }

            return scopes;
        }

        /// <summary><c>calendar.readonly</c> → <c>https://www.googleapis.com/auth/calendar.readonly</c>; full URLs stay.</summary>
        public static string Complete(string scope)
        {
            var trimmed = scope.Trim();
            return trimmed.IndexOf("://", StringComparison.Ordinal) >= 0 ? trimmed : Scopes.Prefix + trimmed;
        }
    }
}
