using System;
using CalendarWatch.Engine;

namespace CalendarWatch
{
    /// <summary>What Connect-CalendarWatch -PassThru returns: how the session is connected, never a secret.</summary>
    public sealed class ConnectionInfo
    {
        internal ConnectionInfo(CalendarConnection connection)
        {
            Kind = connection.Kind;
            Account = connection.Account;
            Endpoint = connection.ApiEndpoint;
            MaxRetry = connection.Retry.MaxRetry;
            RetryTimeLimit = connection.Retry.RetryTimeLimit;
        }

        /// <summary>Emulator or AccessToken (later: ServiceAccount, ApplicationDefault, UserCredential).</summary>
        public ConnectionKind Kind { get; }

        /// <summary>The identity's description (service account email, user), when known.</summary>
        public string? Account { get; }

        /// <summary>The API root the connection calls.</summary>
        public Uri Endpoint { get; }

        /// <summary>Retries after a failed attempt (Connect-CalendarWatch -MaxRetry).</summary>
        public int MaxRetry { get; }

        /// <summary>The longest one request may spend retrying (Connect-CalendarWatch -RetryTimeLimit).</summary>
        public TimeSpan RetryTimeLimit { get; }

        public override string ToString() => $"{Kind} {Account ?? "(no account)"} at {Endpoint}";
    }
}
