using System;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Tasks;
using CalendarWatch.Emulator;
using Xunit;

namespace CalendarWatch.Tests.Emulator
{
    /// <summary>
    /// One emulator (own free port, http addresses allowed, fast delivery retries), one <see cref="TestReceiver"/>,
    /// one plain HttpClient, and a user alice@example.com with her primary calendar and a full-scope token.
    /// Each test starts its own, so tests run in parallel.
    /// </summary>
    public sealed class EmulatorHarness : IAsyncDisposable
    {
        public const string CalendarScope = "https://www.googleapis.com/auth/calendar";
        public const string Alice = "alice@example.com";
        /// <summary>Generous: every wait on it is signalled, so passing tests never spend it.</summary>
        public static readonly TimeSpan WaitTimeout = TimeSpan.FromSeconds(30);

        private EmulatorHarness(CalendarEmulator emulator, TestReceiver receiver)
        {
            Emulator = emulator;
            Receiver = receiver;
            Http = new HttpClient(new HttpClientHandler { UseProxy = false, AllowAutoRedirect = false }) { Timeout = TimeSpan.FromSeconds(60) };
            emulator.CreateCalendar(Alice, Alice);
            AliceToken = emulator.IssueAccessToken(Alice, new[] { CalendarScope });
        }

        public CalendarEmulator Emulator { get; }
        public TestReceiver Receiver { get; }
        public HttpClient Http { get; }
        public string AliceToken { get; }

        public static async Task<EmulatorHarness> StartAsync(Action<EmulatorOptions>? configure = null)
        {
            var options = new EmulatorOptions
            {
                AllowHttp = true,
                DeliveryRetryBaseDelay = TimeSpan.FromMilliseconds(10),
                DeliveryMaxAttempts = 3,
            };
            configure?.Invoke(options);
            var emulator = await CalendarEmulator.StartAsync(options);
            return new EmulatorHarness(emulator, TestReceiver.Start());
        }

        /// <summary>The percent-encoded path segment of a calendar id.</summary>
        public static string Segment(string calendarId) => Uri.EscapeDataString(calendarId);

        public Uri ApiUri(string relative) => new Uri(Emulator.BaseUri, "calendar/v3/" + relative);

        /// <summary>Sends JSON (or nothing) to BaseUri + "calendar/v3/" + relative with a bearer token (none when null).</summary>
        public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string relative, JsonNode? body, string? bearer)
        {
            using var request = new HttpRequestMessage(method, ApiUri(relative));
            if (bearer != null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
            if (body != null) request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
            return await Http.SendAsync(request);
        }

        public Task<HttpResponseMessage> PostAsync(string relative, JsonNode? body, string? bearer) => SendAsync(HttpMethod.Post, relative, body, bearer);

        /// <summary>A Channel body addressed to the receiver.</summary>
        public JsonObject Channel(string id, string? token = null) => ChannelBody(id, Receiver.Address, token);

        public static JsonObject ChannelBody(string id, Uri address, string? token = null)
        {
            var body = new JsonObject { ["id"] = id, ["type"] = "web_hook", ["address"] = address.AbsoluteUri };
            if (token != null) body["token"] = token;
            return body;
        }

        /// <summary>POST calendars/{id}/events/watch (query appended as given) as Alice unless another bearer is given.</summary>
        public Task<HttpResponseMessage> WatchEventsAsync(string calendarId, JsonNode body, string? query = null, string? bearer = null) =>
            PostAsync("calendars/" + Segment(calendarId) + "/events/watch" + (query == null ? "" : "?" + query), body, bearer ?? AliceToken);

        public Task<HttpResponseMessage> WatchAclAsync(string calendarId, JsonNode body, string? bearer = null) =>
            PostAsync("calendars/" + Segment(calendarId) + "/acl/watch", body, bearer ?? AliceToken);

        /// <summary>Watches and asserts 200; returns the Channel JSON.</summary>
        public async Task<JsonObject> WatchEventsOkAsync(string calendarId, string channelId, string? token = null, string? query = null, string? bearer = null)
        {
            using var response = await WatchEventsAsync(calendarId, Channel(channelId, token), query, bearer);
            return await ReadOkAsync(response);
        }

        public async Task<JsonObject> InsertEventAsync(string calendarId, JsonObject? ev = null, string? bearer = null)
        {
            using var response = await PostAsync("calendars/" + Segment(calendarId) + "/events", ev ?? new JsonObject { ["summary"] = "x" }, bearer ?? AliceToken);
            return await ReadOkAsync(response);
        }

        public async Task StopAsync(string channelId, string resourceId, string? bearer = null, HttpStatusCode expected = HttpStatusCode.NoContent)
        {
            using var response = await PostAsync("channels/stop", new JsonObject { ["id"] = channelId, ["resourceId"] = resourceId }, bearer ?? AliceToken);
            Assert.Equal(expected, response.StatusCode);
        }

        public static async Task<JsonObject> ReadOkAsync(HttpResponseMessage response)
        {
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, "expected 200, got " + (int)response.StatusCode + ": " + text);
            return (JsonObject)JsonNode.Parse(text)!;
        }

        /// <summary>Asserts Google's error envelope: code, message, errors[0].domain/reason/message, status.</summary>
        public static async Task<JsonObject> AssertGoogleErrorAsync(HttpResponseMessage response, int code, string reason,
            string? status = null, string? domain = null)
        {
            var text = await response.Content.ReadAsStringAsync();
            Assert.True((int)response.StatusCode == code, "expected " + code + ", got " + (int)response.StatusCode + ": " + text);
            var error = (JsonObject)JsonNode.Parse(text)!["error"]!;
            Assert.Equal(code, (int)error["code"]!);
            var message = (string)error["message"]!;
            Assert.False(string.IsNullOrEmpty(message));
            var item = (JsonObject)((JsonArray)error["errors"]!).Single()!;
            Assert.Equal(reason, (string)item["reason"]!);
            Assert.False(string.IsNullOrEmpty((string?)item["domain"]));
            if (domain != null) Assert.Equal(domain, (string)item["domain"]!);
            Assert.Equal(message, (string)item["message"]!);
            var expectedStatus = status ?? code switch
            {
                400 => "INVALID_ARGUMENT",
                401 => "UNAUTHENTICATED",
                403 => "PERMISSION_DENIED",
                404 => "NOT_FOUND",
                429 => "RESOURCE_EXHAUSTED",
                500 => "INTERNAL",
                503 => "UNAVAILABLE",
                _ => (string)error["status"]!,
            };
            Assert.Equal(expectedStatus, (string)error["status"]!);
            return error;
        }

        public async ValueTask DisposeAsync()
        {
            Http.Dispose();
            await Receiver.DisposeAsync();
            await Emulator.DisposeAsync();
        }
    }
}
