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
        /// True when the identity can act as another user (a service account with domain-wide delegation). When false,
        /// a call with a subject fails with <c>CalendarWatch.SubjectNotSupported</c> before anything is sent.
        /// </summary>
        bool SupportsSubject { get; }

        /// <summary>
        /// The token to send, or null to send no Authorization header (emulator without auth).
        /// <paramref name="refusedToken"/> is null on a first attempt; after the API answered 401 it is the token that
        /// was refused: drop it and fetch anew, unless that token was already replaced (then return its replacement).
        /// </summary>
        Task<string?> GetAccessTokenAsync(string? subject, IReadOnlyList<string> scopes, string? refusedToken, CancellationToken cancellationToken);
    }

    /// <summary>No token at all: the emulator started without auth, which acts as one user whatever the subject.</summary>
    public sealed class NoTokenSource : IAccessTokenSource
    {
        private static readonly Task<string?> NoToken = Task.FromResult<string?>(null);

        public string? Account => null;

        public bool SupportsSubject => false;

        public Task<string?> GetAccessTokenAsync(string? subject, IReadOnlyList<string> scopes, string? refusedToken, CancellationToken cancellationToken)
        {
            if (!string.IsNullOrWhiteSpace(subject))
            {
                throw SubjectRefusal.For(subject!,
                    "an emulator connection sends no token, and the emulator started with --no-auth acts as user@example.com whatever the subject. " +
                    "Leave -Subject out; to test impersonation, start the emulator without --no-auth, register a service account with the users it may act as, " +
                    "and connect with -KeyFile (its token_uri the emulator's /token) and -ApiEndpoint (the emulator).");
            }

            return NoToken;
        }
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

        public bool SupportsSubject => false;

        public Task<string?> GetAccessTokenAsync(string? subject, IReadOnlyList<string> scopes, string? refusedToken, CancellationToken cancellationToken)
        {
            if (!string.IsNullOrWhiteSpace(subject))
            {
                throw SubjectRefusal.For(subject!,
                    "a token given to Connect-CalendarWatch -AccessToken acts as whoever it was issued to. " +
                    "Leave -Subject out (or get a token for that user), or connect with -KeyFile: a service account with domain-wide delegation can act as each user.");
            }

            return _token;
        }

        public override string ToString() => "StaticTokenSource";
    }

    /// <summary>The one error for a subject that the connection cannot act as: refused before anything is sent.</summary>
    internal static class SubjectRefusal
    {
        public static CalendarWatchException For(string subject, string why)
        {
            var trimmed = subject.Trim();
            return new CalendarWatchException("CalendarWatch.SubjectNotSupported", FailureKind.InvalidArgument,
                $"Subject '{trimmed}' cannot be impersonated on this connection: {why}")
            { Subject = trimmed };
        }
    }
}
