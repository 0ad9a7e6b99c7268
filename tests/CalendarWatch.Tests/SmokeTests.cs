using Xunit;

namespace CalendarWatch.Tests
{
    public sealed class SmokeTests
    {
        [Fact]
        public void ManifestVersionReachesTheAssemblies()
        {
            var version = typeof(CalendarWatch.Engine.CalendarApiClient).Assembly.GetName().Version;
            Assert.Equal(new System.Version(0, 1, 0, 0), version);
        }
    }
}
