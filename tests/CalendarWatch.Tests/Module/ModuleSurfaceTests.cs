using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Xunit;

namespace CalendarWatch.Tests.Module
{
    /// <summary>
    /// The module's public surface, read from the built net8.0 CalendarWatch.dll with MetadataLoadContext (no
    /// PowerShell needed): the cmdlets, their parameters, the manifest, the format file and the MAML help agree.
    /// </summary>
    public sealed class ModuleSurfaceTests : IDisposable
    {
        private const string Sma = "System.Management.Automation.";
        private static readonly XNamespace Maml = "http://schemas.microsoft.com/maml/2004/10";
        private static readonly XNamespace Command = "http://schemas.microsoft.com/maml/dev/command/2004/10";
        private static readonly XNamespace Dev = "http://schemas.microsoft.com/maml/dev/2004/10";

        private readonly MetadataLoadContext _context;
        private readonly Assembly _cmdletAssembly;
        private readonly string _repositoryRoot;

        public ModuleSurfaceTests()
        {
            var buildFolder = AppContext.BaseDirectory;
            var cmdletPath = Path.Combine(buildFolder, "CalendarWatch.dll");
            Assert.True(File.Exists(cmdletPath), $"The built cmdlet assembly is missing: {cmdletPath}");
            _repositoryRoot = Repository.Root;

            var paths = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var file in Directory.GetFiles(RuntimeEnvironment.GetRuntimeDirectory(), "*.dll"))
            {
                paths[Path.GetFileName(file)] = file;
            }

            foreach (var file in Directory.GetFiles(buildFolder, "*.dll"))
            {
                paths[Path.GetFileName(file)] = file;
            }

            paths["System.Management.Automation.dll"] = FindPowerShellStandard();
            _context = new MetadataLoadContext(new PathAssemblyResolver(paths.Values));
            _cmdletAssembly = _context.LoadFromAssemblyPath(cmdletPath);
        }

        public void Dispose() => _context.Dispose();

        [Fact]
        public void CmdletClassesAndManifestAgreeExactly()
        {
            var manifest = File.ReadAllText(Path.Combine(_repositoryRoot, "CalendarWatch.psd1"));
            var exported = ManifestList(manifest, "CmdletsToExport");

            Assert.DoesNotContain(exported, name => name.Contains('*') || name.Contains('?'));
            Assert.Equal(Cmdlets().Keys.OrderBy(n => n, StringComparer.Ordinal), exported.OrderBy(n => n, StringComparer.Ordinal));
            Assert.Matches(new Regex(@"RootModule\s*=\s*'CalendarWatch\.psm1'"), manifest);
            Assert.True(File.Exists(Path.Combine(_repositoryRoot, "module", "CalendarWatch.psm1")));
            foreach (var format in ManifestList(manifest, "FormatsToProcess"))
            {
                Assert.True(File.Exists(Path.Combine(_repositoryRoot, "module", format)), $"FormatsToProcess names {format}, which is not in module/.");
            }

            Assert.Empty(ManifestList(manifest, "FunctionsToExport"));
            Assert.Empty(ManifestList(manifest, "AliasesToExport"));
        }

        [Fact]
        public void EveryCmdletIsSealedPublicAndDeclaresItsOutput()
        {
            foreach (var (name, type) in Cmdlets())
            {
                Assert.True(type.IsSealed, $"{type.FullName} ({name}) is not sealed.");
                Assert.True(type.IsPublic, $"{type.FullName} is not public.");
                Assert.Equal("CalendarWatch.Commands", type.Namespace);
                Assert.Equal(name.Replace("-", string.Empty) + "Command", type.Name);
                Assert.Contains(type.GetCustomAttributesData(), a => a.AttributeType.FullName == Sma + "OutputTypeAttribute");
            }

            Assert.Equal("CalendarWatch.Engine.Channel", OutputTypeOf("New-CalendarEventWatch"));
            Assert.Equal("CalendarWatch.Engine.Channel", OutputTypeOf("New-CalendarAclWatch"));
            Assert.Equal("CalendarWatch.ConnectionInfo", OutputTypeOf("Connect-CalendarWatch"));
            Assert.Equal("CalendarWatch.ConnectionInfo", OutputTypeOf("Get-CalendarWatchConnection"));
            Assert.Equal("System.Void", OutputTypeOf("Disconnect-CalendarWatch"));
            Assert.Equal("CalendarWatch.LocalEmulator", OutputTypeOf("Start-CalendarWatchEmulator"));
        }

        [Theory]
        [InlineData("New-CalendarEventWatch")]
        [InlineData("New-CalendarAclWatch")]
        public void WatchCmdletsHaveTheParametersTheIssueLists(string cmdlet)
        {
            var type = Cmdlets()[cmdlet];
            var attribute = CmdletAttribute(type);
            Assert.True(Named<bool>(attribute, "SupportsShouldProcess"));
            Assert.Equal(1 /* ConfirmImpact.Low */, Named<int>(attribute, "ConfirmImpact"));
            Assert.Equal("TimeToLive", Named<string>(attribute, "DefaultParameterSetName"));

            var parameters = Parameters(type);
            var expected = new List<string> { "CalendarId", "Address", "ChannelId", "Token", "TimeToLive", "ExpiresAt", "Subject", "Connection", "ThrottleLimit", "Unordered", "RecordPath", "NoRecord" };
            if (cmdlet == "New-CalendarEventWatch")
            {
                expected.Add("EventType");
            }

            Assert.Equal(expected.OrderBy(n => n), parameters.Keys.OrderBy(n => n));

            var calendarId = parameters["CalendarId"];
            // An array on the command line (-CalendarId a,b,c) gives Write-Progress its total.
            Assert.Equal("String[]", calendarId.Property.PropertyType.Name);
            Assert.True(calendarId.IsMandatory(null));
            Assert.True(calendarId.Any("ValueFromPipeline"));
            Assert.True(calendarId.Any("ValueFromPipelineByPropertyName"));
            // ResourceEmail and PrimaryEmail are calendar ids by definition; Id is not (channels, events, processes).
            Assert.Equal(new[] { "PrimaryEmail", "ResourceEmail" }, calendarId.Aliases.OrderBy(a => a));
            Assert.DoesNotContain("Id", calendarId.Aliases, StringComparer.OrdinalIgnoreCase);

            var address = parameters["Address"];
            Assert.Equal("Uri", address.Property.PropertyType.Name);
            Assert.True(address.IsMandatory(null));
            Assert.False(address.Any("ValueFromPipeline"));
            Assert.True(address.Any("ValueFromPipelineByPropertyName"));

            Assert.Equal((1, 64), parameters["ChannelId"].ValidateLength());
            Assert.Equal((0, 256), parameters["Token"].ValidateLength());

            var ttl = parameters["TimeToLive"];
            Assert.Equal("TimeSpan", ttl.Property.PropertyType.Name);
            Assert.Equal(new[] { "TimeToLive" }, ttl.Sets);
            Assert.False(ttl.IsMandatory("TimeToLive"));

            var expiresAt = parameters["ExpiresAt"];
            Assert.Equal("DateTimeOffset", expiresAt.Property.PropertyType.Name);
            Assert.Equal(new[] { "ExpiresAt" }, expiresAt.Sets);
            Assert.True(expiresAt.IsMandatory("ExpiresAt"));

            // Per-item identity: a CSV's Subject (or UserPrincipalName, Email) column; never PrimaryEmail, which is -CalendarId's.
            var subject = parameters["Subject"];
            Assert.Equal("String", subject.Property.PropertyType.Name);
            Assert.False(subject.IsMandatory(null));
            Assert.False(subject.Any("ValueFromPipeline"));
            Assert.True(subject.Any("ValueFromPipelineByPropertyName"));
            Assert.Equal(new[] { "Email", "UserPrincipalName" }, subject.Aliases.OrderBy(a => a));
            Assert.Empty(subject.Aliases.Intersect(calendarId.Aliases, StringComparer.OrdinalIgnoreCase));

            // An explicit connection (what Connect-CalendarWatch -PassThru returns), for scripts with two identities.
            var connection = parameters["Connection"];
            Assert.Equal("CalendarWatch.ConnectionInfo", connection.Property.PropertyType.FullName);
            Assert.Empty(connection.Sets);
            Assert.Contains(connection.Property.GetCustomAttributesData(), a => a.AttributeType.FullName == "CalendarWatch.ConnectionTransformationAttribute");

            foreach (var name in new[] { "ChannelId", "Token", "TimeToLive", "ExpiresAt", "Connection", "ThrottleLimit", "Unordered" }.Where(parameters.ContainsKey))
            {
                Assert.False(parameters[name].Any("ValueFromPipeline") || parameters[name].Any("ValueFromPipelineByPropertyName"), $"{cmdlet} -{name} should not take pipeline input.");
                Assert.False(parameters[name].IsMandatory(null) && name != "ExpiresAt", $"{cmdlet} -{name} should be optional.");
            }

            if (cmdlet == "New-CalendarEventWatch")
            {
                var eventType = parameters["EventType"];
                Assert.Equal("String[]", eventType.Property.PropertyType.Name);
                var completer = Assert.Single(eventType.Property.GetCustomAttributesData(), a => a.AttributeType.FullName == Sma + "ArgumentCompleterAttribute");
                Assert.Equal("CalendarWatch.EventTypeCompleter", ((Type)completer.ConstructorArguments[0].Value!).FullName);
                // A completer, not a ValidateSet: event types Google adds later must pass through.
                Assert.DoesNotContain(eventType.Property.GetCustomAttributesData(), a => a.AttributeType.FullName == Sma + "ValidateSetAttribute");
                // A channels.csv piped back in keeps each channel's event types (the EventTypes column, comma-separated).
                Assert.False(eventType.Any("ValueFromPipeline"));
                Assert.True(eventType.Any("ValueFromPipelineByPropertyName"));
                Assert.Equal(new[] { "EventTypes" }, eventType.Aliases);
                Assert.Contains(eventType.Property.GetCustomAttributesData(), a => a.AttributeType.FullName == "CalendarWatch.EventTypeListTransformationAttribute");
            }
        }

        [Fact]
        public void ConnectCalendarWatchHasASetPerWayOfConnecting()
        {
            var type = Cmdlets()["Connect-CalendarWatch"];
            Assert.Equal("AccessToken", Named<string>(CmdletAttribute(type), "DefaultParameterSetName"));
            var parameters = Parameters(type);
            Assert.Equal(new[] { "AccessToken", "ApiEndpoint", "ApplicationDefault", "Emulator", "KeyFile", "MaxRetry", "NoStore", "PassThru", "Proxy", "ProxyCredential", "RetryTimeLimit", "Scope", "Subject" }, parameters.Keys.OrderBy(n => n));

            Assert.Equal("SecureString", parameters["AccessToken"].Property.PropertyType.Name);
            Assert.Equal(new[] { "AccessToken" }, parameters["AccessToken"].Sets);
            Assert.True(parameters["AccessToken"].IsMandatory("AccessToken"));
            Assert.Equal("String", parameters["KeyFile"].Property.PropertyType.Name);
            Assert.Equal(new[] { "KeyFile" }, parameters["KeyFile"].Sets);
            Assert.True(parameters["KeyFile"].IsMandatory("KeyFile"));
            Assert.Equal("SwitchParameter", parameters["ApplicationDefault"].Property.PropertyType.Name);
            Assert.Equal(new[] { "ApplicationDefault" }, parameters["ApplicationDefault"].Sets);
            Assert.True(parameters["ApplicationDefault"].IsMandatory("ApplicationDefault"));
            Assert.Equal("Uri", parameters["Emulator"].Property.PropertyType.Name);
            Assert.Equal(new[] { "Emulator" }, parameters["Emulator"].Sets);
            Assert.True(parameters["Emulator"].IsMandatory("Emulator"));

            Assert.Equal(new[] { "ApplicationDefault", "KeyFile" }, parameters["Subject"].Sets);
            Assert.Equal(new[] { "AccessToken", "ApplicationDefault", "KeyFile" }, parameters["ApiEndpoint"].Sets);
            Assert.Equal("Uri", parameters["ApiEndpoint"].Property.PropertyType.Name);
            Assert.Equal(new[] { "AccessToken", "ApplicationDefault", "KeyFile" }, parameters["Scope"].Sets);
            Assert.Equal("String[]", parameters["Scope"].Property.PropertyType.Name);
            foreach (var optional in new[] { "Subject", "ApiEndpoint", "Scope", "PassThru", "NoStore" })
            {
                Assert.False(parameters[optional].IsMandatory(null), $"Connect-CalendarWatch -{optional} should be optional.");
            }

            Assert.Equal("SwitchParameter", parameters["PassThru"].Property.PropertyType.Name);
            Assert.Empty(parameters["PassThru"].Sets);
            Assert.Equal("SwitchParameter", parameters["NoStore"].Property.PropertyType.Name);
            Assert.Empty(parameters["NoStore"].Sets);
            Assert.All(parameters.Values, p => Assert.False(p.Any("ValueFromPipeline") || p.Any("ValueFromPipelineByPropertyName")));

            // The connection description carries no secret; the live connection is not public.
            var info = _cmdletAssembly.GetType("CalendarWatch.ConnectionInfo", throwOnError: true)!;
            Assert.Equal(new[] { "Account", "DefaultSubject", "Endpoint", "Kind", "MaxRetry", "Proxy", "RetryTimeLimit", "Scopes" }, info.GetProperties().Select(p => p.Name).OrderBy(n => n));
            Assert.Equal("CalendarWatch.ConnectionInfo", (string)info.GetField("TypeName")!.GetRawConstantValue()!);
        }

        [Fact]
        public void GetAndDisconnectTakeNoParameters()
        {
            Assert.Empty(Parameters(Cmdlets()["Get-CalendarWatchConnection"]));
            Assert.Empty(Parameters(Cmdlets()["Disconnect-CalendarWatch"]));
        }

        [Fact]
        public void EveryApiCmdletHasThrottleLimitAndUnorderedAndHelpSaysWhy()
        {
            var help = HelpCommands();
            var apiCmdlets = Cmdlets().Where(c => IsApiCmdlet(c.Value)).ToList();
            Assert.Contains(apiCmdlets, c => c.Key == "New-CalendarEventWatch");
            Assert.Contains(apiCmdlets, c => c.Key == "New-CalendarAclWatch");
            foreach (var (name, type) in apiCmdlets)
            {
                var parameters = Parameters(type);
                Assert.True(parameters.ContainsKey("ThrottleLimit"), $"{name} has no -ThrottleLimit.");
                var throttle = parameters["ThrottleLimit"];
                Assert.Equal("Int32", throttle.Property.PropertyType.Name);
                Assert.Equal((1, 64), throttle.ValidateRange());
                Assert.Empty(throttle.Sets);
                Assert.False(throttle.IsMandatory(null));
                Assert.True(parameters.ContainsKey("Unordered"), $"{name} has no -Unordered.");
                Assert.Equal("SwitchParameter", parameters["Unordered"].Property.PropertyType.Name);
                Assert.Empty(parameters["Unordered"].Sets);

                var text = help[name].Value;
                var throttleHelp = HelpParameter(help[name], "ThrottleLimit");
                Assert.Contains("600", throttleHelp);
                var throttleDefault = help[name].Element(Command + "parameters")!.Elements(Command + "parameter").Single(p => p.Element(Maml + "name")!.Value.Trim() == "ThrottleLimit").Element(Dev + "defaultValue")!.Value;
                Assert.Equal("8", throttleDefault.Trim());
                Assert.Contains("completion order", HelpParameter(help[name], "Unordered"));
                Assert.Contains("Write-Progress", text);
                Assert.Contains("Ctrl+C", text);
            }
        }

        [Fact]
        public void ConnectCalendarWatchSetsRetriesInEverySet()
        {
            var type = Cmdlets()["Connect-CalendarWatch"];
            var parameters = Parameters(type);
            Assert.Equal("Int32", parameters["MaxRetry"].Property.PropertyType.Name);
            Assert.Equal((0, 100), parameters["MaxRetry"].ValidateRange());
            Assert.Empty(parameters["MaxRetry"].Sets);
            Assert.Equal("TimeSpan", parameters["RetryTimeLimit"].Property.PropertyType.Name);
            Assert.Empty(parameters["RetryTimeLimit"].Sets);

            var help = HelpCommands()["Connect-CalendarWatch"];
            Assert.Contains("5", HelpParameter(help, "MaxRetry"));
            Assert.Contains("2 minutes", HelpParameter(help, "RetryTimeLimit"));
            var syntax = help.Element(Command + "syntax")!.Elements(Command + "syntaxItem").ToList();
            Assert.All(syntax, item =>
            {
                var names = item.Elements(Command + "parameter").Select(p => p.Element(Maml + "name")!.Value.Trim()).ToList();
                Assert.Contains("MaxRetry", names);
                Assert.Contains("RetryTimeLimit", names);
            });
        }

        [Fact]
        public void EveryParameterHasAHelpMessage()
        {
            foreach (var (name, type) in Cmdlets())
            {
                foreach (var parameter in Parameters(type).Values)
                {
                    Assert.All(parameter.Attributes, a => Assert.False(string.IsNullOrWhiteSpace(NamedOrDefault<string>(a, "HelpMessage")), $"{name} -{parameter.Property.Name} has no HelpMessage."));
                }
            }
        }

        [Fact]
        public void FormatFileNamesOnlyTypesAndPropertiesThatExist()
        {
            var document = XDocument.Load(Path.Combine(_repositoryRoot, "module", "CalendarWatch.Format.ps1xml"));
            var channelType = _context.LoadFromAssemblyPath(Path.Combine(AppContext.BaseDirectory, "CalendarWatch.Engine.dll")).GetType("CalendarWatch.Engine.Channel", throwOnError: true)!;
            var psTypeName = (string)_cmdletAssembly.GetType("CalendarWatch.ChannelOutput", throwOnError: true)!.GetField("TypeName")!.GetRawConstantValue()!;
            Assert.Equal("CalendarWatch.Channel", psTypeName);
            var recordType = _context.LoadFromAssemblyPath(Path.Combine(AppContext.BaseDirectory, "CalendarWatch.Engine.dll")).GetType("CalendarWatch.Engine.Store.ChannelRecord", throwOnError: true)!;
            var recordTypeName = (string)_cmdletAssembly.GetType("CalendarWatch.Commands.GetCalendarChannelCommand", throwOnError: true)!.GetField("TypeName")!.GetRawConstantValue()!;
            var notificationType = _context.LoadFromAssemblyPath(Path.Combine(AppContext.BaseDirectory, "CalendarWatch.Engine.dll")).GetType("CalendarWatch.Engine.Notifications.Notification", throwOnError: true)!;
            var notificationTypeName = (string)_cmdletAssembly.GetType("CalendarWatch.NotificationOutput", throwOnError: true)!.GetField("TypeName")!.GetRawConstantValue()!;

            var views = document.Descendants("View").ToList();
            Assert.NotEmpty(views);
            var sawChannelView = false;
            foreach (var view in views)
            {
                var typeNames = view.Element("ViewSelectedBy")!.Elements("TypeName").Select(e => e.Value.Trim()).ToList();
                Assert.NotEmpty(typeNames);
                var types = typeNames.Select(n => n == psTypeName ? channelType : n == recordTypeName ? recordType : n == notificationTypeName ? notificationType : ResolveType(n) ?? throw new Xunit.Sdk.XunitException($"The format file names type '{n}', which does not exist.")).ToList();
                var properties = view.Descendants("PropertyName").Select(e => e.Value.Trim()).ToList();
                Assert.NotEmpty(properties);
                foreach (var type in types)
                {
                    foreach (var property in properties)
                    {
                        Assert.True(type.GetProperty(property) != null, $"The format file's view '{view.Element("Name")?.Value}' shows {property}, which {type.FullName} does not have.");
                    }
                }

                if (typeNames.Contains(psTypeName) && view.Element("TableControl") != null)
                {
                    // 80 columns: the calendar, the resource, the expiry (a script block: UTC, to the minute) and the id.
                    sawChannelView = true;
                    Assert.Equal(new[] { "CalendarId", "Resource", "Id" }, properties);
                    Assert.Equal(4, view.Descendants("TableColumnHeader").Count());
                }

                // No view shows the channel token (Format-List * still does).
                Assert.DoesNotContain("Token", properties);
            }

            Assert.True(sawChannelView, "The format file has no view for CalendarWatch.Channel.");
        }

        [Fact]
        public void HelpIsValidMamlForEveryCmdletAndParameter()
        {
            var document = XDocument.Load(BuiltHelpPath());
            Assert.Equal("helpItems", document.Root!.Name.LocalName);
            Assert.Equal("maml", (string?)document.Root.Attribute("schema"));

            var commands = document.Root.Elements(Command + "command").ToDictionary(c => c.Element(Command + "details")!.Element(Command + "name")!.Value.Trim());
            Assert.Equal(Cmdlets().Keys.OrderBy(n => n), commands.Keys.OrderBy(n => n));

            foreach (var (name, type) in Cmdlets())
            {
                var help = commands[name];
                var details = help.Element(Command + "details")!;
                Assert.Equal(name.Split('-')[0], details.Element(Command + "verb")!.Value);
                Assert.Equal(name.Split('-')[1], details.Element(Command + "noun")!.Value);
                Assert.False(string.IsNullOrWhiteSpace(details.Element(Maml + "description")?.Value), $"{name} has no synopsis.");
                Assert.False(string.IsNullOrWhiteSpace(help.Element(Maml + "description")?.Value), $"{name} has no description.");
                Assert.NotEmpty(help.Descendants(Command + "example"));
                Assert.NotEmpty(help.Element(Command + "syntax")!.Elements(Command + "syntaxItem"));

                var expected = Parameters(type).ToDictionary(p => p.Key, p => p.Value);
                var helpParameters = help.Element(Command + "parameters")!.Elements(Command + "parameter")
                    .ToDictionary(p => p.Element(Maml + "name")!.Value.Trim());
                var expectedNames = expected.Keys.ToList();
                if (NamedOrDefault<bool>(CmdletAttribute(type), "SupportsShouldProcess"))
                {
                    expectedNames.Add("WhatIf");
                    expectedNames.Add("Confirm");
                }

                Assert.Equal(expectedNames.OrderBy(n => n), helpParameters.Keys.OrderBy(n => n));
                foreach (var (parameterName, parameter) in expected)
                {
                    var element = helpParameters[parameterName];
                    Assert.False(string.IsNullOrWhiteSpace(element.Element(Maml + "description")?.Value), $"{name} -{parameterName} has no description in help.");
                    var aliases = ((string?)element.Attribute("aliases") ?? "None").Split(',').Select(a => a.Trim()).Where(a => a.Length > 0 && a != "None");
                    Assert.Equal(parameter.Aliases.OrderBy(a => a), aliases.OrderBy(a => a));
                    Assert.Equal(parameter.IsMandatory(null) || parameter.Attributes.All(a => NamedOrDefault<bool>(a, "Mandatory")), bool.Parse((string)element.Attribute("required")!));
                    var pipeline = (string)element.Attribute("pipelineInput")!;
                    Assert.Equal(parameter.Any("ValueFromPipeline"), pipeline.Contains("ByValue"));
                    Assert.Equal(parameter.Any("ValueFromPipelineByPropertyName"), pipeline.Contains("ByPropertyName"));
                }
            }

            Assert.Contains("Import-Csv", commands["New-CalendarEventWatch"].Value);
            Assert.Contains("Export-Csv", commands["New-CalendarEventWatch"].Value);
            Assert.Contains("no Id alias", commands["New-CalendarEventWatch"].Value);
            Assert.Contains("no Id alias", commands["New-CalendarAclWatch"].Value);
        }

        private Dictionary<string, XElement> HelpCommands()
        {
            var document = XDocument.Load(BuiltHelpPath());
            return document.Root!.Elements(Command + "command").ToDictionary(c => c.Element(Command + "details")!.Element(Command + "name")!.Value.Trim());
        }

        /// <summary>
        /// The help the build made from docs/help/*.md and the built cmdlets (docs/New-MamlHelp.ps1): the one copy, in the
        /// module's en-US folder. It needs ./build.ps1 -Task Build, which -Task Test runs before these tests.
        /// </summary>
        private static string BuiltHelpPath()
        {
            var path = Path.Combine(Repository.Root, "output", "CalendarWatch", Repository.ModuleVersion().ToString(), "en-US", "CalendarWatch.dll-Help.xml");
            Assert.True(File.Exists(path), $"The built help is missing: {path}. Run ./build.ps1 -Task Build (it makes the help from docs/help/*.md).");
            return path;
        }

        private static string HelpParameter(XElement command, string parameter)
        {
            var element = command.Element(Command + "parameters")!.Elements(Command + "parameter").SingleOrDefault(p => p.Element(Maml + "name")!.Value.Trim() == parameter);
            Assert.True(element != null, $"The help has no -{parameter}.");
            return element!.Element(Maml + "description")!.Value;
        }

        /// <summary>Derives from the async bridge CalendarApiCmdlet&lt;TRequest&gt;, so it talks to the Calendar API.</summary>
        private static bool IsApiCmdlet(Type type)
        {
            for (var current = type.BaseType; current != null; current = current.BaseType)
            {
                if (current.IsGenericType && current.GetGenericTypeDefinition().FullName == "CalendarWatch.CalendarApiCmdlet`2")
                {
                    return true;
                }
            }

            return false;
        }

        private Dictionary<string, Type> Cmdlets()
        {
            var result = new Dictionary<string, Type>(StringComparer.Ordinal);
            foreach (var type in _cmdletAssembly.GetTypes())
            {
                var attribute = type.GetCustomAttributesData().FirstOrDefault(a => a.AttributeType.FullName == Sma + "CmdletAttribute");
                if (attribute != null)
                {
                    result.Add((string)attribute.ConstructorArguments[0].Value! + "-" + (string)attribute.ConstructorArguments[1].Value!, type);
                }
            }

            Assert.NotEmpty(result);
            return result;
        }

        private static CustomAttributeData CmdletAttribute(Type type) =>
            type.GetCustomAttributesData().Single(a => a.AttributeType.FullName == Sma + "CmdletAttribute");

        private string OutputTypeOf(string cmdlet)
        {
            var attribute = Cmdlets()[cmdlet].GetCustomAttributesData().Single(a => a.AttributeType.FullName == Sma + "OutputTypeAttribute");
            var types = (IEnumerable<CustomAttributeTypedArgument>)attribute.ConstructorArguments[0].Value!;
            return ((Type)types.Single().Value!).FullName!;
        }

        private static Dictionary<string, ParameterInfo> Parameters(Type type)
        {
            var result = new Dictionary<string, ParameterInfo>(StringComparer.Ordinal);
            foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
            {
                var attributes = property.GetCustomAttributesData().Where(a => a.AttributeType.FullName == Sma + "ParameterAttribute").ToList();
                if (attributes.Count > 0)
                {
                    result.Add(property.Name, new ParameterInfo(property, attributes));
                }
            }

            return result;
        }

        private Type? ResolveType(string fullName)
        {
            foreach (var assemblyName in new[] { "CalendarWatch.dll", "CalendarWatch.Engine.dll" })
            {
                var type = _context.LoadFromAssemblyPath(Path.Combine(AppContext.BaseDirectory, assemblyName)).GetType(fullName);
                if (type != null)
                {
                    return type;
                }
            }

            return null;
        }

        private static T Named<T>(CustomAttributeData attribute, string name)
        {
            var argument = attribute.NamedArguments.Where(a => a.MemberName == name).ToList();
            Assert.True(argument.Count == 1, $"[{attribute.AttributeType.Name}] does not set {name}.");
            return (T)argument[0].TypedValue.Value!;
        }

        private static T? NamedOrDefault<T>(CustomAttributeData attribute, string name)
        {
            var argument = attribute.NamedArguments.Where(a => a.MemberName == name).ToList();
            return argument.Count == 1 ? (T?)argument[0].TypedValue.Value : default;
        }

        private static List<string> ManifestList(string manifest, string key)
        {
            var match = Regex.Match(manifest, key + @"\s*=\s*@\((?<items>[^)]*)\)");
            Assert.True(match.Success, $"The manifest has no {key} = @(...) list.");
            return Regex.Matches(match.Groups["items"].Value, "'(?<name>[^']+)'").Select(m => m.Groups["name"].Value).ToList();
        }

        private static string FindPowerShellStandard()
        {
            var roots = new[]
            {
                Environment.GetEnvironmentVariable("NUGET_PACKAGES"),
                Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages"),
            };
            foreach (var root in roots.Where(r => !string.IsNullOrEmpty(r)))
            {
                var path = Path.Combine(root!, "powershellstandard.library", "5.1.0-preview-06", "lib", "netstandard2.0", "System.Management.Automation.dll");
                if (File.Exists(path))
                {
                    return path;
                }
            }

            throw new InvalidOperationException("PowerShellStandard.Library 5.1.0-preview-06 is not in the NuGet cache: run dotnet restore.");
        }

        private sealed class ParameterInfo
        {
            public ParameterInfo(PropertyInfo property, IReadOnlyList<CustomAttributeData> attributes)
            {
                Property = property;
                Attributes = attributes;
            }

            public PropertyInfo Property { get; }

            public IReadOnlyList<CustomAttributeData> Attributes { get; }

            /// <summary>The parameter sets it is in (empty = all sets).</summary>
            public string[] Sets => Attributes.Select(a => NamedOrDefault<string>(a, "ParameterSetName")).Where(s => s != null && s != "__AllParameterSets").Select(s => s!).OrderBy(s => s).ToArray();

            public IEnumerable<string> Aliases => Property.GetCustomAttributesData()
                .Where(a => a.AttributeType.FullName == Sma + "AliasAttribute")
                .SelectMany(a => (IEnumerable<CustomAttributeTypedArgument>)a.ConstructorArguments[0].Value!)
                .Select(v => (string)v.Value!);

            public bool Any(string flag) => Attributes.Any(a => NamedOrDefault<bool>(a, flag));

            /// <summary>Mandatory in the given set (null: in every set it belongs to).</summary>
            public bool IsMandatory(string? set) => Attributes
                .Where(a => set == null || (NamedOrDefault<string>(a, "ParameterSetName") ?? "__AllParameterSets") is var s && (s == set || s == "__AllParameterSets"))
                .All(a => NamedOrDefault<bool>(a, "Mandatory"));

            public (int Min, int Max) ValidateRange()
            {
                var attribute = Assert.Single(Property.GetCustomAttributesData(), a => a.AttributeType.FullName == Sma + "ValidateRangeAttribute");
                return ((int)attribute.ConstructorArguments[0].Value!, (int)attribute.ConstructorArguments[1].Value!);
            }

            public (int Min, int Max) ValidateLength()
            {
                var attribute = Assert.Single(Property.GetCustomAttributesData(), a => a.AttributeType.FullName == Sma + "ValidateLengthAttribute");
                return ((int)attribute.ConstructorArguments[0].Value!, (int)attribute.ConstructorArguments[1].Value!);
            }
        }
    }
}
