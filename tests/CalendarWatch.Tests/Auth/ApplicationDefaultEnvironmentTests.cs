using System;
using System.Threading.Tasks;
using CalendarWatch.Emulator;
using CalendarWatch.Engine;
using CalendarWatch.Engine.Auth;
using Xunit;

namespace CalendarWatch.Tests.Auth
{
    /// <summary>Tests that set GOOGLE_APPLICATION_CREDENTIALS (process-wide): never run beside each other.</summary>
    [CollectionDefinition(Name, DisableParallelization = true)]
    public sealed class ApplicationDefaultEnvironmentCollection
    {
        public const string Name = "GOOGLE_APPLICATION_CREDENTIALS";
    }

    [Collection(ApplicationDefaultEnvironmentCollection.Name)]
    public sealed class ApplicationDefaultEnvironmentTests
    {
        private const string Variable = "GOOGLE_APPLICATION_CREDENTIALS";

        [Fact]
        public async Task ApplicationDefaultUsesTheKeyNamedByGoogleApplicationCredentials()
        {
            await using var emulator = await CalendarEmulator.StartAsync(new EmulatorOptions { AllowHttp = true, DeliveryMaxAttempts = 1 });
            using var account = new TestServiceAccount(emulator.TokenUri.AbsoluteUri);
            emulator.RegisterServiceAccount(account.ClientEmail, account.PublicKeyPem, new[] { "dana@example.com" }, new[] { Scopes.EventsReadonly }, account.ClientId);
            var previous = Environment.GetEnvironmentVariable(Variable);
            try
            {
                Environment.SetEnvironmentVariable(Variable, account.WriteKeyFile());
                using var connection = ConnectionFactory.ConnectApplicationDefault("dana@example.com", null, emulator.BaseUri);

                var channel = await new CalendarApiClient(connection).WatchAsync(new WatchRequest
                {
                    CalendarId = "primary",
                    ChannelId = Guid.NewGuid().ToString(),
                    Address = new Uri("http://127.0.0.1:9/hook"),
                });

                Assert.Equal(ConnectionKind.ApplicationDefault, connection.Kind);
                Assert.Equal(account.ClientEmail, connection.Account);
                Assert.Equal("dana@example.com", channel.Subject);
                Assert.Equal("dana@example.com", Assert.Single(emulator.Channels).Owner);
                Assert.Equal(1, emulator.Stats.TokenRequestsByClientAndSubject[account.ClientId]["dana@example.com"]);
            }
            finally
            {
                Environment.SetEnvironmentVariable(Variable, previous);
            }
        }

        [Fact]
        public void AnApplicationDefaultFileThatIsMissingIsAClearError()
        {
            var previous = Environment.GetEnvironmentVariable(Variable);
            var missing = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "cw-missing-" + Guid.NewGuid().ToString("N") + ".json");
            try
            {
                Environment.SetEnvironmentVariable(Variable, missing);
                var error = Assert.Throws<CalendarWatchException>(() => ConnectionFactory.ConnectApplicationDefault(null, null, null));
                Assert.Equal("CalendarWatch.NoApplicationDefaultCredentials", error.ErrorId);
                Assert.Contains("GOOGLE_APPLICATION_CREDENTIALS", error.Message);
                Assert.Contains(missing, error.Message);
            }
            finally
            {
                Environment.SetEnvironmentVariable(Variable, previous);
            }
        }

        [Fact]
        public void AnApplicationDefaultPathThatIsADirectoryIsNamedAsADirectory()
        {
            var previous = Environment.GetEnvironmentVariable(Variable);
            var directory = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "cw-adc-" + Guid.NewGuid().ToString("N"));
            System.IO.Directory.CreateDirectory(directory);
            try
            {
                Environment.SetEnvironmentVariable(Variable, directory);
                var error = Assert.Throws<CalendarWatchException>(() => ConnectionFactory.ConnectApplicationDefault(null, null, null));
                Assert.Equal("CalendarWatch.NoApplicationDefaultCredentials", error.ErrorId);
                Assert.Contains($"'{directory}', is a directory", error.Message);
                Assert.Contains("GOOGLE_APPLICATION_CREDENTIALS", error.Message);
            }
            finally
            {
                Environment.SetEnvironmentVariable(Variable, previous);
                System.IO.Directory.Delete(directory);
            }
        }

        [UnixFact]
        public async Task AnApplicationDefaultPathThatIsAFifoIsRefusedWithoutOpeningIt()
        {
            var previous = Environment.GetEnvironmentVariable(Variable);
            var directory = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "cw-adc-" + Guid.NewGuid().ToString("N"));
            System.IO.Directory.CreateDirectory(directory);
            var fifo = System.IO.Path.Combine(directory, "credentials.json");
            KeyFileTypeTests.Run("mkfifo", fifo);
            try
            {
                Environment.SetEnvironmentVariable(Variable, fifo);
                var error = await KeyFileTypeTests.LoadWithin(fifo, TimeSpan.FromSeconds(30), _ => ConnectionFactory.ConnectApplicationDefault(null, null, null));
                Assert.Equal("CalendarWatch.NoApplicationDefaultCredentials", error.ErrorId);
                Assert.Contains($"'{fifo}', is a named pipe (FIFO)", error.Message);
            }
            finally
            {
                Environment.SetEnvironmentVariable(Variable, previous);
                System.IO.Directory.Delete(directory, recursive: true);
            }
        }
    }
}
