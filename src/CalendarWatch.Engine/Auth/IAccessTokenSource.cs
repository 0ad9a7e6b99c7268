using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace CalendarWatch.Engine.Auth
{
    /// <summary>
    /// Where a connection gets the bearer token for one call. Implementations cache per (subject, scopes), refresh
    /// before expiry and never expose the token through ToString or exception messages.
    /// </summary>
    public interface IAccessTokenSource
    {
        /// <summary>A human description of the identity, e.g. the service account's email. Never a secret.</summary>
        string? Account { get; }

        /// <summary>
        /// The token to send, or null to send no Authorization header (emulator without auth).
        /// <paramref name="forceRefresh"/> is true after the API answered 401 once: drop the cached token and fetch anew.
        /// </summary>
        Task<string?> GetAccessTokenAsync(string? subject, IReadOnlyList<string> scopes, bool forceRefresh, CancellationToken cancellationToken);
    }

    /// <summary>No token at all: the emulator started without auth.</summary>
    public sealed class NoTokenSource : IAccessTokenSource
    {
        private static readonly Task<string?> NoToken = Task.FromResult<string?>(null);

        public string? Account => null;

        public Task<string?> GetAccessTokenAsync(string? subject, IReadOnlyList<string> scopes, bool forceRefresh, CancellationToken cancellationToken)
            => NoToken;
    }

    /// <summary>A token the admin already holds (Connect-CalendarWatch -AccessToken). It cannot be refreshed.</summary>
    public sealed class StaticTokenSource : IAccessTokenSource
    {
        // One completed task for every call: the token never changes.
        private readonly Task<string?> _token;

        public StaticTokenSource(string accessToken, string? account = null)
        {
            _token = Task.FromResult<string?>(accessToken);
            Account = account;
        }

        public string? Account { get; }

        public Task<string?> GetAccessTokenAsync(string? subject, IReadOnlyList<string> scopes, bool forceRefresh, CancellationToken cancellationToken)
            => _token;

        public override string ToString() => "StaticTokenSource";
    }
}
