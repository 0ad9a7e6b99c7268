using System.Collections.Generic;
using System.Text.Json;
using CalendarWatch.Engine.Json;
using Xunit;

namespace CalendarWatch.Tests.Engine
{
    /// <summary>
    /// The wire JSON the engine writes and reads without the serializer: what Google receives (the request bodies, byte
    /// for byte) and what a response body becomes, including the bodies that are not a channel or not an error.
    /// </summary>
    public sealed class WireJsonTests
    {
        [Fact]
        public void AWatchBodyHasOnlyTheMembersSetWithExpirationAsAStringAndTheSerializersEscaping()
        {
            var body = new ChannelWire { Id = "c-1", Type = "web_hook", Address = "https://hooks.example.com/cal?a=1&b=<2>", Token = "t+1", Expiration = 1893456000000 };

            Assert.Equal("{\"id\":\"c-1\",\"token\":\"t\\u002B1\",\"type\":\"web_hook\",\"address\":\"https://hooks.example.com/cal?a=1\\u0026b=\\u003C2\\u003E\",\"expiration\":\"1893456000000\"}", WireJson.Write(body));
        }

        [Fact]
        public void AWatchBodyWithATimeToLiveCarriesItInParams()
        {
            var body = new ChannelWire { Id = "c-2", Type = "web_hook", Address = "https://h.example.com/", Params = new Dictionary<string, string> { ["ttl"] = "3600" } };

            Assert.Equal("{\"id\":\"c-2\",\"type\":\"web_hook\",\"address\":\"https://h.example.com/\",\"params\":{\"ttl\":\"3600\"}}", WireJson.Write(body));
        }

        [Fact]
        public void AStopBodyLeavesOutAMissingToken()
        {
            Assert.Equal("{\"id\":\"c-3\",\"resourceId\":\"r-3\"}", WireJson.Write(new StopWire { Id = "c-3", ResourceId = "r-3" }));
            Assert.Equal("{\"id\":\"c-3\",\"resourceId\":\"r-3\",\"token\":\"tok\"}", WireJson.Write(new StopWire { Id = "c-3", ResourceId = "r-3", Token = "tok" }));
        }

        [Theory]
        [InlineData("\"1893456000000\"")]
        [InlineData("1893456000000")]
        public void AChannelIsReadWithItsExpirationAsAStringOrANumberAndUnknownMembersIgnored(string expiration)
        {
            var json = "{\"kind\":\"api#channel\",\"id\":\"c-1\",\"resourceId\":\"r-1\",\"resourceUri\":\"https://www.googleapis.com/calendar/v3/calendars/a/events\"," +
                "\"token\":\"t\",\"expiration\":" + expiration + ",\"somethingNew\":{\"x\":[1,2]},\"params\":{\"ttl\":\"60\"},\"id\":\"c-last\"}";

            var channel = WireJson.ReadChannel(json)!;

            Assert.Equal("api#channel", channel.Kind);
            Assert.Equal("c-last", channel.Id);
            Assert.Equal("r-1", channel.ResourceId);
            Assert.Equal("https://www.googleapis.com/calendar/v3/calendars/a/events", channel.ResourceUri);
            Assert.Equal("t", channel.Token);
            Assert.Equal(1893456000000, channel.Expiration);
            Assert.Equal("60", channel.Params!["ttl"]);
            Assert.Null(channel.Address);
        }

        [Fact]
        public void ANullParameterValueIsLeftOutAndANullErrorItemSkipped()
        {
            var channel = WireJson.ReadChannel("{\"resourceId\":\"r\",\"params\":{\"ttl\":\"60\",\"other\":null}}")!;
            Assert.Equal(new[] { "ttl" }, channel.Params!.Keys);
            Assert.Equal("backendError", Assert.Single(WireJson.ReadError("{\"error\":{\"errors\":[null,{\"reason\":\"backendError\"}]}}")!.Errors!).Reason);
        }

        [Fact]
        public async System.Threading.Tasks.Task TheWarmUpsWorkRunsWithoutFailingAndWithoutARetry()
        {
            // The warm-up swallows its failures when Connect-CalendarWatch starts it; here they would show.
            await CalendarWatch.Engine.Warmup.PrepareAsync();
            await CalendarWatch.Engine.Warmup.PrepareAsync();
        }

        [Fact]
        public void NullIsNoChannelAndNamesAreMatchedExactly()
        {
            Assert.Null(WireJson.ReadChannel("null"));
            var channel = WireJson.ReadChannel("{\"ResourceId\":\"r\",\"expiration\":null}")!;
            Assert.Null(channel.ResourceId);
            Assert.Null(channel.Expiration);
        }

        [Theory]
        [InlineData("[]")]
        [InlineData("42")]
        [InlineData("<html>bad gateway</html>")]
        [InlineData("{\"resourceId\":5}")]
        [InlineData("{\"resourceId\":\"r\",\"expiration\":\"soon\"}")]
        [InlineData("{\"resourceId\":\"r\",\"expiration\":1.5}")]
        [InlineData("{\"resourceId\":\"r\",\"params\":{\"ttl\":60}}")]
        [InlineData("{\"resourceId\":\"r\",\"params\":[]}")]
        public void ABodyThatIsNotAChannelIsAJsonException(string json)
        {
            Assert.ThrowsAny<JsonException>(() => WireJson.ReadChannel(json));
        }

        [Fact]
        public void AnErrorEnvelopeIsReadWithItsCodeAsANumberOrAString()
        {
            var json = "{\"error\":{\"code\":\"403\",\"message\":\"Rate Limit Exceeded\",\"status\":\"PERMISSION_DENIED\"," +
                "\"errors\":[null,{\"domain\":\"usageLimits\",\"reason\":\"rateLimitExceeded\",\"message\":\"Rate Limit Exceeded\",\"location\":\"q\",\"locationType\":\"parameter\",\"extra\":true}]}}";

            var error = WireJson.ReadError(json)!;

            Assert.Equal(403, error.Code);
            Assert.Equal("Rate Limit Exceeded", error.Message);
            Assert.Equal("PERMISSION_DENIED", error.Status);
            var item = Assert.Single(error.Errors!);
            Assert.Equal("usageLimits", item.Domain);
            Assert.Equal("rateLimitExceeded", item.Reason);
            Assert.Equal("q", item.Location);
            Assert.Equal("parameter", item.LocationType);
            Assert.Equal(404, WireJson.ReadError("{\"error\":{\"code\":404}}")!.Code);
        }

        [Fact]
        public void AnErrorBodyWithoutAnErrorIsNoneAndOneOfTheWrongShapeIsAJsonException()
        {
            Assert.Null(WireJson.ReadError("null"));
            Assert.Null(WireJson.ReadError("{}"));
            Assert.Null(WireJson.ReadError("{\"error\":null}"));
            Assert.ThrowsAny<JsonException>(() => WireJson.ReadError("{\"error\":\"invalid_grant\"}"));
            Assert.ThrowsAny<JsonException>(() => WireJson.ReadError("{\"error\":{\"code\":99999999999}}"));
            Assert.ThrowsAny<JsonException>(() => WireJson.ReadError("{\"error\":{\"errors\":{}}}"));
            Assert.ThrowsAny<JsonException>(() => WireJson.ReadError("Service Unavailable"));
        }
    }
}
