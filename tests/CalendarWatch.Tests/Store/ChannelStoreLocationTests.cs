using System;
using System.Collections.Generic;
using System.IO;
using CalendarWatch.Engine;
using CalendarWatch.Engine.Store;
using Xunit;

namespace CalendarWatch.Tests.Store
{
    /// <summary>The per-user default path, its override, and the reason each gives.</summary>
    public sealed class ChannelStoreLocationTests
    {
        private static Func<string, string?> Env(params (string Name, string Value)[] values)
        {
            var map = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (name, value) in values) map[name] = value;
            return name => map.TryGetValue(name, out var value) ? value : null;
        }

        [Fact]
        public void TheEnvironmentVariableWinsEverywhere()
        {
            var file = Path.Combine(Path.GetTempPath(), "elsewhere", "mine.db");
            foreach (var windows in new[] { true, false })
            {
                var location = ChannelStoreLocation.Resolve(Env(("CALENDARWATCH_STORE", file), ("XDG_DATA_HOME", "/xdg"), ("LOCALAPPDATA", @"C:\Users\a\AppData\Local")), windows, null, "/home/a");
                Assert.Equal(file, location.Path);
                Assert.Equal(ChannelStoreLocationSource.EnvironmentVariable, location.Source);
                Assert.Contains("CALENDARWATCH_STORE", location.Reason);
            }
        }

        [Fact]
        public void ARelativeOverrideIsTakenFromTheCurrentDirectory()
        {
            var location = ChannelStoreLocation.Resolve(Env(("CALENDARWATCH_STORE", "rel.db")), false, null, "/home/a");
            Assert.Equal(Path.GetFullPath("rel.db"), location.Path);
        }

        [Fact]
        public void WindowsUsesLocalAppData()
        {
            var root = Path.Combine(Path.GetTempPath(), "LocalAppData");
            var location = ChannelStoreLocation.Resolve(Env(("LOCALAPPDATA", root)), true, null, null);
            Assert.Equal(Path.Combine(root, "CalendarWatch", "channels.db"), location.Path);
            Assert.Equal(ChannelStoreLocationSource.LocalAppData, location.Source);
            Assert.Contains("%LOCALAPPDATA%", location.Reason);
        }

        [Fact]
        public void ElsewhereXdgDataHomeThenTheHomeDirectory()
        {
            var xdg = ChannelStoreLocation.Resolve(Env(("XDG_DATA_HOME", "/data/a"), ("HOME", "/home/a")), false, null, null);
            Assert.Equal(Path.GetFullPath("/data/a/CalendarWatch/channels.db"), xdg.Path);
            Assert.Equal(ChannelStoreLocationSource.XdgDataHome, xdg.Source);

            var home = ChannelStoreLocation.Resolve(Env(("HOME", "/home/a")), false, null, null);
            Assert.Equal(Path.GetFullPath("/home/a/.local/share/CalendarWatch/channels.db"), home.Path);
            Assert.Equal(ChannelStoreLocationSource.HomeDirectory, home.Source);
            Assert.Contains("XDG_DATA_HOME are not set", home.Reason);

            var relativeXdg = ChannelStoreLocation.Resolve(Env(("XDG_DATA_HOME", "data"), ("HOME", "/home/a")), false, null, null);
            Assert.Equal(ChannelStoreLocationSource.HomeDirectory, relativeXdg.Source);
            Assert.Contains("not an absolute path", relativeXdg.Reason);
        }

        [Fact]
        public void NoPlaceAtAllSaysWhichVariableToSet()
        {
            var error = Assert.Throws<CalendarWatchException>(() => ChannelStoreLocation.Resolve(Env(), false, null, null));
            Assert.Equal("CalendarWatch.StorePathUnknown", error.ErrorId);
            Assert.Contains("CALENDARWATCH_STORE", error.Message);
        }

        [Fact]
        public void TheProcessDefaultIsAnAbsoluteChannelsDb()
        {
            var location = ChannelStoreLocation.Resolve();
            Assert.True(Path.IsPathRooted(location.Path));
            Assert.False(string.IsNullOrEmpty(location.Reason));
            if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CALENDARWATCH_STORE")))
            {
                Assert.EndsWith(Path.Combine("CalendarWatch", "channels.db"), location.Path);
            }
        }
    }
}
