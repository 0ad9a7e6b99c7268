using System;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Tasks;
using CalendarWatch.Emulator;
using Xunit;

namespace CalendarWatch.Tests.Emulator
{
    /// <summary>Issue 9, defect 15: request bodies are bounded, and client text is never echoed at length.</summary>
    public sealed class BodyLimitTests
    {
        private const string Alice = EmulatorHarness.Alice;

        private static string WatchRequestHead(EmulatorHarness h, string framing) =>
            "POST /calendar/v3/calendars/" + EmulatorHarness.Segment(Alice) + "/events/watch HTTP/1.1\r\n" + RawHttpClient.HostHeader(h.Emulator.BaseUri) +
            "Authorization: Bearer " + h.AliceToken + "\r\nContent-Type: application/json\r\n" + framing + "\r\n";

        [Fact]
        public void TheDefaultLimitsAreOneMebibyteAndSixtyFourKibibytesForTheTokenEndpoint()
        {
            var options = new EmulatorOptions();
            Assert.Equal(1024 * 1024, options.MaxRequestBodyBytes);
            Assert.Equal(64 * 1024, options.MaxTokenRequestBodyBytes);
            Assert.Throws<ArgumentOutOfRangeException>(() => options.MaxRequestBodyBytes = 0);
            Assert.Throws<ArgumentOutOfRangeException>(() => options.MaxTokenRequestBodyBytes = -1);
        }

        [Fact]
        public async Task ADeclaredBodyOverTheLimitIs413BeforeAByteOfItIsSent()
        {
            await using var h = await EmulatorHarness.StartAsync();
            using var raw = await RawHttpClient.ConnectAsync(h.Emulator.BaseUri);
            // 200 MB announced, nothing sent: the answer can only come from the header.
            await raw.SendAsync(WatchRequestHead(h, "Content-Length: 209715200\r\n"));
            var response = await raw.ReadResponseAsync();
            Assert.Equal(413, response.Status);
            var error = (JsonObject)response.Json["error"]!;
            Assert.Equal(413, (int)error["code"]!);
            Assert.Contains("1048576", (string)error["message"]!);
            Assert.Equal("badRequest", (string)error["errors"]![0]!["reason"]!);
            Assert.Equal("close", response.Headers["Connection"], ignoreCase: true);
            Assert.Empty(h.Emulator.Channels);
            // The emulator goes on serving.
            await h.WatchEventsOkAsync(Alice, "after-413");
        }

        [Fact]
        public async Task AChunkedBodyIsCutOffAtTheLimitWhileItStreams()
        {
            await using var h = await EmulatorHarness.StartAsync(o => o.MaxRequestBodyBytes = 1024);
            using var raw = await RawHttpClient.ConnectAsync(h.Emulator.BaseUri);
            var body = "{\"id\":\"chunked\",\"type\":\"web_hook\",\"address\":\"" + h.Receiver.Address.AbsoluteUri + "\",\"token\":\"" + new string('x', 2000) + "\"}";
            await raw.SendAsync(WatchRequestHead(h, "Transfer-Encoding: chunked\r\n") + body.Length.ToString("x") + "\r\n" + body + "\r\n");
            var response = await raw.ReadResponseAsync();
            Assert.Equal(413, response.Status);
            Assert.Contains("1024", (string)response.Json["error"]!["message"]!);
            Assert.Empty(h.Emulator.Channels);
        }

        [Fact]
        public async Task AdminBodiesHaveTheSameLimit()
        {
            await using var h = await EmulatorHarness.StartAsync(o => o.MaxRequestBodyBytes = 1024);
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(h.Emulator.BaseUri, "emulator/v1/calendars"))
            {
                Content = new StringContent(new JsonObject { ["id"] = new string('c', 2000), ["owner"] = "o@example.com" }.ToJsonString(), Encoding.UTF8, "application/json"),
            };
            using var r = await h.Http.SendAsync(request);
            var error = await EmulatorHarness.AssertGoogleErrorAsync(r, 413, "badRequest", status: "INVALID_ARGUMENT");
            Assert.Contains("1024", (string)error["message"]!);
        }

        [Fact]
        public async Task TheTokenEndpointHasASmallerLimitAndAnswersInOAuthShape()
        {
            await using var h = await EmulatorHarness.StartAsync();
            using var raw = await RawHttpClient.ConnectAsync(h.Emulator.BaseUri);
            await raw.SendAsync("POST /token HTTP/1.1\r\n" + RawHttpClient.HostHeader(h.Emulator.BaseUri) +
                "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 10485760\r\n\r\n");
            var response = await raw.ReadResponseAsync();
            Assert.Equal(413, response.Status);
            Assert.Equal("invalid_request", (string)response.Json["error"]!);
            Assert.Contains("65536", (string)response.Json["error_description"]!);
        }

        [Fact]
        public async Task TheTokenEndpointQuotesAnUnknownGrantTypeShortened()
        {
            await using var h = await EmulatorHarness.StartAsync();
            var grant = new string('g', 10000);
            using var r = await h.Http.PostAsync(h.Emulator.TokenUri, new FormUrlEncodedContent(new[]
            {
                new System.Collections.Generic.KeyValuePair<string, string>("grant_type", grant),
            }));
            Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
            var description = (string)JsonNode.Parse(await r.Content.ReadAsStringAsync())!["error_description"]!;
            Assert.StartsWith("Invalid grant_type: ggg", description);
            Assert.InRange(description.Length, 1, 300);
        }

        [Fact]
        public async Task ApiErrorsQuoteClientTextShortened()
        {
            await using var h = await EmulatorHarness.StartAsync();
            var body = h.Channel("long-type");
            body["type"] = new string('t', 10000);
            using (var r = await h.WatchEventsAsync(Alice, body))
            {
                var error = await EmulatorHarness.AssertGoogleErrorAsync(r, 400, "invalid");
                Assert.InRange(((string)error["message"]!).Length, 1, 400);
            }
            using (var r = await h.WatchEventsAsync(Alice, h.Channel("long-param"), query: new string('p', 10000) + "=1"))
            {
                var error = await EmulatorHarness.AssertGoogleErrorAsync(r, 400, "invalid");
                Assert.InRange(((string)error["message"]!).Length, 1, 400);
                Assert.InRange(((string)error["errors"]![0]!["location"]!).Length, 1, 300);
            }
        }
    }
}
