using System;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Text;
using System.Threading.Tasks;
using Xunit;

namespace CalendarWatch.Tests.Emulator
{
    /// <summary>Issue 9, defect 18: API and admin bodies must be UTF-8 JSON sent as application/json.</summary>
    public sealed class BodyFormatTests
    {
        private const string Alice = EmulatorHarness.Alice;

        private static async Task<HttpResponseMessage> PostRawAsync(EmulatorHarness h, string relative, byte[] body, string? contentType, bool api = true)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(h.Emulator.BaseUri, (api ? "calendar/v3/" : "emulator/v1/") + relative));
            if (api) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", h.AliceToken);
            var content = new ByteArrayContent(body);
            if (contentType != null) content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
            request.Content = content;
            return await h.Http.SendAsync(request);
        }

        private static byte[] WatchBodyWithInvalidUtf8(EmulatorHarness h)
        {
            var head = Encoding.UTF8.GetBytes("{\"id\":\"bad-");
            var tail = Encoding.UTF8.GetBytes("\",\"type\":\"web_hook\",\"address\":\"" + h.Receiver.Address.AbsoluteUri + "\"}");
            var body = new byte[head.Length + 2 + tail.Length];
            head.CopyTo(body, 0);
            body[head.Length] = 0xC3;     // a lead byte...
            body[head.Length + 1] = 0x28; // ...followed by something that is not a continuation byte
            tail.CopyTo(body, head.Length + 2);
            return body;
        }

        private static string WatchPath => "calendars/" + EmulatorHarness.Segment(Alice) + "/events/watch";

        [Fact]
        public async Task InvalidUtf8IsAParseError()
        {
            await using var h = await EmulatorHarness.StartAsync();
            using (var r = await PostRawAsync(h, WatchPath, WatchBodyWithInvalidUtf8(h), "application/json; charset=UTF-8"))
                await EmulatorHarness.AssertGoogleErrorAsync(r, 400, "parseError");
            Assert.Empty(h.Emulator.Channels);
        }

        [Fact]
        public async Task InvalidUtf8InAnAdminBodyIsAParseError()
        {
            await using var h = await EmulatorHarness.StartAsync();
            var body = Encoding.UTF8.GetBytes("{\"id\":\"x\uFFFD@example.com\",\"owner\":\"o@example.com\"}");
            var at = Array.IndexOf(body, (byte)0xEF);
            body[at] = 0xFF; // never valid in UTF-8
            using var r = await PostRawAsync(h, "calendars", body, "application/json", api: false);
            await EmulatorHarness.AssertGoogleErrorAsync(r, 400, "parseError");
        }

        [Theory]
        [InlineData("text/plain")]
        [InlineData("application/x-www-form-urlencoded")]
        [InlineData("text/json")]
        public async Task ABodyThatIsNotDeclaredJsonIsRefused(string contentType)
        {
            await using var h = await EmulatorHarness.StartAsync();
            var json = Encoding.UTF8.GetBytes(h.Channel("typed").ToJsonString());
            using (var r = await PostRawAsync(h, WatchPath, json, contentType))
            {
                var error = await EmulatorHarness.AssertGoogleErrorAsync(r, 400, "badContent");
                Assert.Contains(contentType, (string)error["message"]!);
                Assert.Contains("application/json", (string)error["message"]!);
            }
            Assert.Empty(h.Emulator.Channels);
            using (var r = await PostRawAsync(h, "calendars", Encoding.UTF8.GetBytes("{\"id\":\"c@example.com\",\"owner\":\"o@example.com\"}"), contentType, api: false))
                await EmulatorHarness.AssertGoogleErrorAsync(r, 400, "badContent");
        }

        [Theory]
        [InlineData("application/json")]
        [InlineData("Application/JSON; charset=utf-8")]
        [InlineData(null)]
        public async Task JsonBodiesAreAcceptedWithOrWithoutACharsetAndWithoutAContentType(string? contentType)
        {
            await using var h = await EmulatorHarness.StartAsync();
            var json = Encoding.UTF8.GetBytes(h.Channel("accepted").ToJsonString());
            using var r = await PostRawAsync(h, WatchPath, json, contentType);
            await EmulatorHarness.ReadOkAsync(r);
        }

        [Fact]
        public async Task AnEmptyBodyNeedsNoContentType()
        {
            await using var h = await EmulatorHarness.StartAsync();
            using var r = await PostRawAsync(h, "reset", Array.Empty<byte>(), "application/x-www-form-urlencoded", api: false);
            Assert.Equal(System.Net.HttpStatusCode.NoContent, r.StatusCode);
        }
    }
}
