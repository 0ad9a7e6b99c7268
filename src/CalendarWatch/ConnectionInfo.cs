using System;
using System.Linq;
using CalendarWatch.Engine;

namespace CalendarWatch
{
    /// <summary>
    /// What Connect-CalendarWatch -PassThru and Get-CalendarWatchConnection return: how a connection authenticates and
    /// where it goes, never a secret. It also carries the live connection (not a public property, so Format-List *,
    /// ConvertTo-Json and Export-Csv cannot reach it), which is what makes it usable as any API cmdlet's -Connection.
    /// </summary>
    public sealed class ConnectionInfo
    {
        /// <summary>The PSTypeName the format file's view is selected by (the class's own full name).</summary>
        public const string TypeName = "CalendarWatch.ConnectionInfo";

        /// <summary>What <see cref="ToString"/> and the format view show when no -Scope was given.</summary>
        public const string NarrowestScopes = "(narrowest per method)";

        internal ConnectionInfo(CalendarConnection connection)
        {
            Connection = connection ?? throw new ArgumentNullException(nameof(connection));
            Kind = connection.Kind;
            Account = connection.Account;
            DefaultSubject = connection.DefaultSubject;
            Scopes = connection.Scopes?.ToArray() ?? Array.Empty<string>();
            Endpoint = connection.ApiEndpoint;
            Proxy = connection.Proxy.ToString();
            MaxRetry = connection.Retry.MaxRetry;
            RetryTimeLimit = connection.Retry.RetryTimeLimit;
        }

        /// <summary>Emulator, AccessToken, ServiceAccount or ApplicationDefault.</summary>
        public ConnectionKind Kind { get; }

        /// <summary>The identity: the service account's email, a description of ADC's credentials; null when unknown.</summary>
        public string? Account { get; }

        /// <summary>The user a service account acts as when an item gives no -Subject (domain-wide delegation); null = itself.</summary>
        public string? DefaultSubject { get; }

        /// <summary>The scopes every call asks for (-Scope); empty = the narrowest scope each method accepts.</summary>
        public string[] Scopes { get; }

        /// <summary>The API root the connection calls.</summary>
        public Uri Endpoint { get; }

        /// <summary>The proxy requests go through: "the system proxy" or its address (never a password), and whether a credential is set.</summary>
        public string Proxy { get; }

        /// <summary>Retries after a failed attempt (Connect-CalendarWatch -MaxRetry).</summary>
        public int MaxRetry { get; }

        /// <summary>The longest one request may spend retrying (Connect-CalendarWatch -RetryTimeLimit).</summary>
        public TimeSpan RetryTimeLimit { get; }

        /// <summary>The live connection, for -Connection. Internal: never formatted, serialized or exported.</summary>
        internal CalendarConnection Connection { get; }

        public override string ToString()
        {
            var subject = DefaultSubject is null ? string.Empty : $" acting as {DefaultSubject}";
            var scopes = Scopes.Length == 0 ? NarrowestScopes : string.Join(",", Scopes);
            return $"{Kind} {Account ?? "(no account)"}{subject} at {Endpoint}, scopes {scopes}";
        }
    }
}
