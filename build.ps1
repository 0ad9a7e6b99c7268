#!/usr/bin/env pwsh
#Requires -Version 7.4
<#
.SYNOPSIS
Builds, tests, packages and demonstrates the CalendarWatch module (PowerShell 7 + .NET SDK).

.DESCRIPTION
-Task Build    publishes src/CalendarWatch for net472 and net8.0 into output/CalendarWatch/<version>/bin/<tfm>/ (with
               its dependencies and deps.json), and src/CalendarWatch.LoadContext, the PowerShell 7 loader, into
               bin/net8.0/ beside it; copies the manifest, psm1, format file and en-US (about_ topics) to the version folder,
               makes the cmdlet help en-US/CalendarWatch.dll-Help.xml from docs/help/*.md and the built cmdlets, and
               publishes the emulator into output/Emulator/. The version is the manifest's ModuleVersion
               (CalendarWatch.psd1 is the one source).
-Task Test     Build, then `dotnet test CalendarWatch.slnx`, then the Pester 5 suites (tests/*.Tests.ps1) against the
               built module. Prints "Tests Passed: N, Failed: N" and fails when anything failed.
-Task Package  Build (not with -SkipBuild), then output/packages/CalendarWatch.<version>.nupkg for the Gallery: a lean
               copy of the module (no .pdb or deps.json, one help file, LICENSE), PSCmdlet_/PSCommand_ tags for every
               exported cmdlet and ReleaseNotes from CHANGELOG.md in the packaged manifest.
-Task Demo     Build, then the whole lifecycle with the module's own commands: start the emulator, watch events and
               ACL of two calendars, show sync, make changes and show exists, renew and show the old channel go
               silent and the new one deliver, stop and show silence, and the channel record at each step.

.EXAMPLE
./build.ps1 -Task Test
#>
[CmdletBinding()]
param(
    [ValidateSet('Build', 'Test', 'Package', 'Demo')]
    [string]$Task = 'Build',

    [ValidateSet('Debug', 'Release')]
    [string]$Configuration = 'Release',

    # Test: run only the Pester files whose name matches (wildcards), e.g. -PesterPath Connection*
    [string]$PesterPath,

    # Test: an xunit filter passed to dotnet test --filter, e.g. -Filter FullyQualifiedName~KeyFileTests
    [string]$Filter,

    # Test: skip the Pester suites (xunit only)
    [switch]$SkipPester,

    # Test: skip the build and xunit (Pester only, against the module already built); Package: package the module
    # already built; Demo: skip the build
    [switch]$SkipBuild
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$repositoryRoot = $PSScriptRoot
$manifestPath = Join-Path -Path $repositoryRoot -ChildPath 'CalendarWatch.psd1'
$moduleVersion = (Import-PowerShellDataFile -LiteralPath $manifestPath).ModuleVersion
$outputRoot = Join-Path -Path $repositoryRoot -ChildPath 'output'
$moduleOutput = Join-Path -Path (Join-Path -Path $outputRoot -ChildPath 'CalendarWatch') -ChildPath $moduleVersion
$builtManifest = Join-Path -Path $moduleOutput -ChildPath 'CalendarWatch.psd1'
$helpers = Join-Path -Path (Join-Path -Path $repositoryRoot -ChildPath 'tests') -ChildPath 'CalendarWatch.TestHelpers.psm1'

function Invoke-DotNet {
    param([Parameter(Mandatory)][string[]]$Arguments)

    Write-Host "dotnet $($Arguments -join ' ')"
    & dotnet @Arguments
    if ($LASTEXITCODE -ne 0) {
        throw "dotnet $($Arguments[0]) failed with exit code $LASTEXITCODE."
    }
}

function Invoke-Build {
    if (Test-Path -LiteralPath $moduleOutput) {
        Remove-Item -LiteralPath $moduleOutput -Recurse -Force
    }

    $null = New-Item -ItemType Directory -Path $moduleOutput -Force
    $project = Join-Path -Path (Join-Path -Path $repositoryRoot -ChildPath 'src') -ChildPath 'CalendarWatch'
    foreach ($framework in @('net472', 'net8.0')) {
        $binFolder = Join-Path -Path (Join-Path -Path $moduleOutput -ChildPath 'bin') -ChildPath $framework
        Invoke-DotNet -Arguments @('publish', $project, '--nologo', '-c', $Configuration, '-f', $framework, '-o', $binFolder)
    }

    # The native SQLite of the channel record (e_sqlite3): only the platforms PowerShell runs on. net8.0 keeps those
    # runtimes/<rid>/native folders (the loader finds them through CalendarWatch.deps.json); Windows PowerShell 5.1
    # gets the three Windows builds, which the restore on a non-Windows machine does not copy there.
    $shippedRuntimes = @('win', 'win-x64', 'win-x86', 'win-arm64', 'linux-x64', 'linux-arm64', 'linux-musl-x64', 'linux-musl-arm64', 'osx-x64', 'osx-arm64')
    $coreRuntimes = [System.IO.Path]::Combine($moduleOutput, 'bin', 'net8.0', 'runtimes')
    Get-ChildItem -LiteralPath $coreRuntimes -Directory | Where-Object { $shippedRuntimes -notcontains $_.Name } | Remove-Item -Recurse -Force
    $desktopRuntimes = [System.IO.Path]::Combine($moduleOutput, 'bin', 'net472', 'runtimes')
    if (Test-Path -LiteralPath $desktopRuntimes) {
        Remove-Item -LiteralPath $desktopRuntimes -Recurse -Force
    }
    foreach ($rid in @('win-x64', 'win-x86', 'win-arm64')) {
        $native = [System.IO.Path]::Combine($coreRuntimes, $rid, 'native')
        $target = [System.IO.Path]::Combine($desktopRuntimes, $rid, 'native')
        $null = New-Item -ItemType Directory -Path $target -Force
        Copy-Item -Path (Join-Path -Path $native -ChildPath 'e_sqlite3.dll') -Destination $target
    }

    # PowerShell 7: the loader, the one CalendarWatch assembly in the default AssemblyLoadContext, beside the cmdlet
    # assembly and its CalendarWatch.deps.json, which say what its private context loads (see CalendarWatch.psm1).
    $loaderProject = Join-Path -Path (Join-Path -Path $repositoryRoot -ChildPath 'src') -ChildPath 'CalendarWatch.LoadContext'
    $coreFolder = Join-Path -Path (Join-Path -Path $moduleOutput -ChildPath 'bin') -ChildPath 'net8.0'
    Invoke-DotNet -Arguments @('publish', $loaderProject, '--nologo', '-c', $Configuration, '-f', 'net8.0', '-o', $coreFolder)

    $moduleFolder = Join-Path -Path $repositoryRoot -ChildPath 'module'
    Copy-Item -LiteralPath $manifestPath -Destination $moduleOutput
    Copy-Item -LiteralPath (Join-Path -Path $moduleFolder -ChildPath 'CalendarWatch.psm1') -Destination $moduleOutput
    Copy-Item -LiteralPath (Join-Path -Path $moduleFolder -ChildPath 'CalendarWatch.Format.ps1xml') -Destination $moduleOutput
    Copy-Item -LiteralPath (Join-Path -Path $moduleFolder -ChildPath 'en-US') -Destination $moduleOutput -Recurse
    Build-Help

    # The emulator, for the Pester suites and the demo (net8.0 rolls forward to the installed runtime).
    $emulatorProject = Join-Path -Path (Join-Path -Path $repositoryRoot -ChildPath 'src') -ChildPath 'CalendarWatch.Emulator'
    $emulatorOutput = Join-Path -Path $outputRoot -ChildPath 'Emulator'
    Invoke-DotNet -Arguments @('publish', $emulatorProject, '--nologo', '-c', $Configuration, '-f', 'net8.0', '-o', $emulatorOutput)

    Write-Host "Built CalendarWatch $moduleVersion into $moduleOutput"
}

function Build-Help {
    # The one copy of the cmdlet help: en-US/CalendarWatch.dll-Help.xml under the version folder (Get-Help finds it
    # there for every UI culture on PowerShell 7, falling back to en-US), made from docs/help/<Command>.md and the built
    # cmdlets by docs/New-MamlHelp.ps1, in a PowerShell process of its own so that this one never loads the module.
    # Not verified on Windows PowerShell 5.1: there the psm1 imports bin/net472/CalendarWatch.dll by path, and Get-Help
    # looks under the cmdlets' module base, which is then bin/net472.
    $generator = [System.IO.Path]::Combine($repositoryRoot, 'docs', 'New-MamlHelp.ps1')
    $sources = [System.IO.Path]::Combine($repositoryRoot, 'docs', 'help')
    $helpPath = [System.IO.Path]::Combine($moduleOutput, 'en-US', 'CalendarWatch.dll-Help.xml')
    $processPath = [Environment]::ProcessPath
    $pwsh = if ([System.IO.Path]::GetFileNameWithoutExtension($processPath) -eq 'dotnet') { @($processPath, (Join-Path -Path $PSHOME -ChildPath 'pwsh.dll')) } else { @(, $processPath) }
    $arguments = @($pwsh | Select-Object -Skip 1) + @('-NoProfile', '-NonInteractive', '-File', $generator, '-ModuleManifest', $builtManifest, '-SourceFolder', $sources, '-OutputPath', $helpPath)
    & $pwsh[0] @arguments
    if ($LASTEXITCODE -ne 0) {
        throw "The help build (docs/New-MamlHelp.ps1) failed with exit code $LASTEXITCODE; its message above says what to fix in docs/help."
    }
}

function Import-Pester {
    # The user's own Pester 5 (PowerShell Gallery) when there is one; otherwise the version pinned in
    # tests/Tools/Tools.csproj, restored by NuGet (the machine's own configuration) and imported from its packages folder.
    $pester = Get-Module -ListAvailable -Name Pester |
        Where-Object { $_.Version -ge [version]'5.0.0' -and $_.Version -lt [version]'6.0.0' } |
        Sort-Object -Property Version -Descending | Select-Object -First 1
    if ($null -ne $pester) {
        Import-Module -ModuleInfo $pester -Force
        return
    }

    $toolsProject = [System.IO.Path]::Combine($repositoryRoot, 'tests', 'Tools', 'Tools.csproj')
    $pinned = ([xml](Get-Content -LiteralPath $toolsProject -Raw)).Project.ItemGroup.PackageDownload |
        Where-Object { $_.Include -eq 'Pester' } | Select-Object -First 1
    $version = $pinned.Version.Trim('[', ']')
    Invoke-DotNet -Arguments @('restore', $toolsProject, '--nologo', '--verbosity', 'quiet')
    $packagesFolder = ((& dotnet nuget locals global-packages --list) -replace '^global-packages:\s*', '').Trim()
    $pesterManifest = [System.IO.Path]::Combine($packagesFolder, 'pester', $version, 'tools', 'Pester.psd1')
    if (-not (Test-Path -LiteralPath $pesterManifest)) {
        throw "Pester $version was not found at '$pesterManifest' after restoring $toolsProject. Install Pester 5 (Install-PSResource Pester -Version '[5.0,6.0)') or check the NuGet configuration."
    }

    Import-Module -Name $pesterManifest -Force
}

function Invoke-Test {
    $xunitExitCode = 0
    if (-not $SkipBuild) {
        Invoke-Build
        # xunit first; a failure there is reported at the end so that the Pester suites still run. The hang guard
        # fails a test that runs past 5 minutes and names it in the output.
        $xunitArguments = @('test', (Join-Path -Path $repositoryRoot -ChildPath 'CalendarWatch.slnx'), '--nologo', '-c', $Configuration,
            '--blame-hang-timeout', '5m', '--blame-hang-dump-type', 'none')
        if ($Filter) {
            $xunitArguments += @('--filter', $Filter)
        }
        Write-Host "dotnet $($xunitArguments -join ' ')"
        & dotnet @xunitArguments
        $xunitExitCode = $LASTEXITCODE
    }
    if ($SkipPester) {
        if ($xunitExitCode -ne 0) { throw "dotnet test failed with exit code $xunitExitCode." }
        return
    }

    Import-Pester
    # The suites make channels with fixed ids; a fresh channel record per run keeps runs independent (and the user's own
    # record untouched). Suites that look at the record set their own file.
    $env:CALENDARWATCH_STORE = [System.IO.Path]::Combine($outputRoot, 'test-record', [guid]::NewGuid().ToString('N') + '.db')
    $testFiles = @(Get-ChildItem -Path (Join-Path -Path $repositoryRoot -ChildPath 'tests') -Filter '*.Tests.ps1' -File |
        Where-Object { -not $PesterPath -or $_.Name -like $PesterPath })
    if ($testFiles.Count -eq 0) {
        throw 'No tests/*.Tests.ps1 file found.'
    }

    $pesterConfiguration = New-PesterConfiguration
    $pesterConfiguration.Run.Path = @($testFiles | ForEach-Object { $_.FullName })
    $pesterConfiguration.Run.PassThru = $true
    $pesterConfiguration.Run.Exit = $false
    # Pester's own summary is silenced so that exactly one "Tests Passed:" line reaches .ci/run.
    $pesterConfiguration.Output.Verbosity = 'None'
    $pesterConfiguration.TestResult.Enabled = $true
    $pesterConfiguration.TestResult.OutputPath = Join-Path -Path $outputRoot -ChildPath 'pester-results.xml'

    $result = Invoke-Pester -Configuration $pesterConfiguration
    foreach ($test in @($result.Tests)) {
        if ($test.Result -eq 'Passed') {
            Write-Host "  [+] $($test.ExpandedPath)"
        }
        elseif ($test.Result -eq 'Failed') {
            Write-Host "  [-] $($test.ExpandedPath)"
            foreach ($errorRecord in @($test.ErrorRecord)) {
                Write-Host "      $errorRecord"
            }
        }
        else {
            Write-Host "  [!] $($test.ExpandedPath) ($($test.Result))"
        }
    }

    # A failed BeforeAll/AfterAll fails its block, whose tests then did not run: say why.
    foreach ($block in @($result.FailedBlocks)) {
        Write-Host "  [-] $(@($block.Path) -join '.'): $(@($block.ErrorRecord) -join '; ')"
    }

    foreach ($container in @($result.Containers)) {
        if ($container.Result -eq 'Failed') {
            Write-Host "  [-] $($container.Item): $(@($container.ErrorRecord) -join '; ')"
        }
    }

    $failed = $result.FailedCount + $result.FailedBlocksCount + $result.FailedContainersCount
    Write-Host "Tests Passed: $($result.PassedCount), Failed: $failed, Skipped: $($result.SkippedCount)"
    if ($failed -gt 0 -or $result.Result -ne 'Passed') {
        throw "Pester: $failed failed."
    }
    if ($xunitExitCode -ne 0) {
        throw "dotnet test failed with exit code $xunitExitCode."
    }
}

function Get-ReleaseNote {
    # The CHANGELOG.md section of this version: the lines under "## [<version>]" up to the next "## " heading.
    $changelog = Join-Path -Path $repositoryRoot -ChildPath 'CHANGELOG.md'
    $lines = @(Get-Content -LiteralPath $changelog)
    $heading = '## [' + $moduleVersion + ']'
    $first = [Array]::FindIndex($lines, [Predicate[string]] { param($line) $line.StartsWith($heading, [StringComparison]::Ordinal) })
    if ($first -lt 0) {
        throw "CHANGELOG.md has no section for $moduleVersion (a heading '$heading ...'). Add one before packaging: its text becomes the package's release notes."
    }

    $section = [System.Collections.Generic.List[string]]::new()
    $section.Add($lines[$first].Substring(3))
    for ($index = $first + 1; $index -lt $lines.Count -and -not $lines[$index].StartsWith('## ', [StringComparison]::Ordinal); $index++) {
        $section.Add($lines[$index])
    }

    return ($section -join "`n").Trim()
}

function Invoke-Package {
    if (-not $SkipBuild) {
        Invoke-Build
    }

    # A lean copy of the built module: one help file (en-US/, which Get-Help finds for every culture), no .pdb, no
    # deps.json (the loader then treats every assembly in bin/net8.0 as the module's and finds e_sqlite3 under
    # runtimes/<rid>/native), and one System.Management.dll: the Windows implementation, which Google.Apis.Auth calls
    # on Windows only (the other copy is a stub that throws on every platform).
    $staging = [System.IO.Path]::Combine($outputRoot, 'package-staging', 'CalendarWatch')
    if (Test-Path -LiteralPath $staging) {
        Remove-Item -LiteralPath $staging -Recurse -Force
    }
    $null = New-Item -ItemType Directory -Path $staging -Force
    Copy-Item -Path (Join-Path -Path $moduleOutput -ChildPath '*') -Destination $staging -Recurse
    Copy-Item -LiteralPath (Join-Path -Path $repositoryRoot -ChildPath 'LICENSE') -Destination $staging
    Copy-Item -LiteralPath $manifestPath -Destination $staging -Force
    Get-ChildItem -LiteralPath $staging -Recurse -File -Include '*.pdb', '*.deps.json' | Remove-Item -Force
    Get-ChildItem -LiteralPath $staging -File -Filter '*-Help.xml' | Remove-Item -Force
    foreach ($framework in @('net472', 'net8.0')) {
        $binFolder = [System.IO.Path]::Combine($staging, 'bin', $framework)
        Get-ChildItem -LiteralPath $binFolder -File -Filter '*-Help.xml' | Remove-Item -Force
        Get-ChildItem -LiteralPath $binFolder -Directory | Where-Object { $_.Name -ne 'runtimes' } | Remove-Item -Recurse -Force
    }
    $coreBin = [System.IO.Path]::Combine($staging, 'bin', 'net8.0')
    $windowsManagement = @(Get-ChildItem -Path ([System.IO.Path]::Combine($coreBin, 'runtimes', 'win', 'lib')) -Recurse -File -Filter 'System.Management.dll' -ErrorAction SilentlyContinue)
    if ($windowsManagement.Count -gt 0) {
        Move-Item -LiteralPath $windowsManagement[0].FullName -Destination (Join-Path -Path $coreBin -ChildPath 'System.Management.dll') -Force
        Remove-Item -LiteralPath ([System.IO.Path]::Combine($coreBin, 'runtimes', 'win', 'lib')) -Recurse -Force
        $emptyWin = [System.IO.Path]::Combine($coreBin, 'runtimes', 'win')
        if (@(Get-ChildItem -LiteralPath $emptyWin -Force).Count -eq 0) { Remove-Item -LiteralPath $emptyWin -Force }
    }

    # The packaged manifest: PSCmdlet_/PSCommand_ tags for every exported cmdlet (Find-PSResource -Command and the
    # Gallery's search read them), and the release notes from CHANGELOG.md. Text edits of the copy keep its layout;
    # Update-PSModuleManifest would rewrite it and lose quotes inside the notes.
    $stagedManifest = Join-Path -Path $staging -ChildPath 'CalendarWatch.psd1'
    $data = Import-PowerShellDataFile -LiteralPath $stagedManifest
    $tags = [System.Collections.Generic.List[string]]::new([string[]]$data.PrivateData.PSData.Tags)
    foreach ($cmdlet in $data.CmdletsToExport) {
        $tags.Add("PSCmdlet_$cmdlet")
        $tags.Add("PSCommand_$cmdlet")
    }
    $tags.Add('PSIncludes_Cmdlet')
    $quote = { param([string]$text) "'" + $text.Replace("'", "''") + "'" }
    $text = Get-Content -LiteralPath $stagedManifest -Raw
    $tagLine = [regex]::Match($text, '(?m)^(?<indent>[ \t]*)Tags[ \t]*=.*$')
    if (-not $tagLine.Success) {
        throw "CalendarWatch.psd1 has no 'Tags = ...' line under PrivateData.PSData."
    }
    $indent = $tagLine.Groups['indent'].Value
    $replacement = $indent + 'Tags         = @(' + (($tags | ForEach-Object { & $quote $_ }) -join ', ') + ')' + "`n" +
        $indent + 'ReleaseNotes = ' + (& $quote (Get-ReleaseNote))
    $text = $text.Substring(0, $tagLine.Index) + $replacement + $text.Substring($tagLine.Index + $tagLine.Length)
    Set-Content -LiteralPath $stagedManifest -Value $text -NoNewline -Encoding utf8
    $check = Import-PowerShellDataFile -LiteralPath $stagedManifest
    if ($check.PrivateData.PSData.ReleaseNotes -ne (Get-ReleaseNote) -or @($check.PrivateData.PSData.Tags).Count -ne $tags.Count) {
        throw 'The packaged manifest does not read back with the tags and release notes written into it.'
    }

    $packages = Join-Path -Path $outputRoot -ChildPath 'packages'
    $null = New-Item -ItemType Directory -Path $packages -Force
    $package = Join-Path -Path $packages -ChildPath "CalendarWatch.$moduleVersion.nupkg"
    if (Test-Path -LiteralPath $package) {
        Remove-Item -LiteralPath $package -Force
    }
    # A repository registered for this publish only (a unique name), unregistered whatever happens.
    $repositoryName = 'CalendarWatchBuild-' + [guid]::NewGuid().ToString('N')
    Register-PSResourceRepository -Name $repositoryName -Uri $packages -Trusted
    try {
        # The manifest, not its folder: PSResourceGet takes the package name from a folder path's last segment.
        Publish-PSResource -Path $stagedManifest -Repository $repositoryName
    }
    finally {
        Unregister-PSResourceRepository -Name $repositoryName
    }

    Write-Host "Package: $package"
}

function Invoke-Demo {
    # The whole lifecycle with the module's own commands only: Start-CalendarWatchEmulator, Connect-, New-*Watch,
    # Receive-CalendarNotification, Get-/Update-/Stop-CalendarChannel, Stop-CalendarWatchEmulator. Output fits 80 columns.
    if (-not $SkipBuild) {
        Invoke-Build
    }
    # The demo's channels live in the emulator: a fresh record of their own under output/, not the user's.
    $env:CALENDARWATCH_STORE = [System.IO.Path]::Combine($outputRoot, 'demo-record.db')
    Get-ChildItem -Path "$env:CALENDARWATCH_STORE*" -ErrorAction SilentlyContinue | Remove-Item -Force
    Import-Module -Name $builtManifest -Force
    $started = [System.Diagnostics.Stopwatch]::StartNew()

    function Show-Step {
        param([Parameter(Mandatory)][string]$Title)
        Write-Host ''
        Write-Host "== $Title"
    }

    function Show-Table {
        # A table at 80 columns whatever the console's width.
        param([Parameter(ValueFromPipeline)][object]$InputObject, [Parameter(Mandatory)][object[]]$Property)
        begin { $rows = [System.Collections.Generic.List[object]]::new() }
        process { if ($null -ne $InputObject) { $rows.Add($InputObject) } }
        end {
            if ($rows.Count -eq 0) { Write-Host '   (none)'; return }
            $text = $rows | Format-Table -Property $Property -AutoSize | Out-String -Width 80
            Write-Host $text.Trim("`r", "`n")
        }
    }

    # Short names for channel ids (GUIDs are 36 characters): the first 8 characters.
    $short = @{ Name = 'Channel'; Expression = { $_.ChannelId.Substring(0, 8) } }

    function Show-Record {
        param([Parameter(Mandatory)][string]$When)
        Show-Step "The channel record $When (Get-CalendarChannel -All)"
        Get-CalendarChannel -All | Sort-Object CreatedAt | Show-Table -Property CalendarId, @{ Name = 'Resource'; Expression = { "$($_.Resource)" } }, $short, @{ Name = 'State'; Expression = { "$($_.State)" } },
            @{ Name = 'Replaces'; Expression = { if ($_.Replaces) { $_.Replaces.Substring(0, 8) } } }
    }

    $emulator = $null
    $receiver = $null
    try {
        Show-Step 'Start the emulator in this PowerShell (Start-CalendarWatchEmulator)'
        $emulator = Start-CalendarWatchEmulator -NoAuth -AllowHttp
        Connect-CalendarWatch -Emulator $emulator
        Write-Host "   listening on $($emulator.Address); connected"

        # ---- RECEIVING: Receive-CalendarNotification, in a runspace of its own, is the webhook ------------------------
        # It listens on a free loopback port and matches each notification against the record (token, known channel,
        # renewal links); the demo takes what it writes from a queue, waiting on it (no polling).
        $probe = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
        $probe.Start()
        $port = ([System.Net.IPEndPoint]$probe.LocalEndpoint).Port
        $probe.Stop()
        $hook = [Uri]"http://127.0.0.1:$port/calendar"
        $queue = [System.Collections.Concurrent.BlockingCollection[object]]::new()
        $receiver = [PowerShell]::Create()
        $null = $receiver.AddScript({
            param($Manifest, $Port, $Queue)
            Import-Module -Name $Manifest
            Receive-CalendarNotification -Port $Port | ForEach-Object { $Queue.Add($_) }
        }.ToString()).AddArgument($builtManifest).AddArgument($port).AddArgument($queue)
        $receiving = $receiver.BeginInvoke()
        function Receive-DemoNotification {
            # The next $Count notifications Receive-CalendarNotification wrote (a signalled wait, 20 s at most each);
            # with -Count 0, whatever came meanwhile: nothing, once every channel is stopped.
            param([Parameter(Mandatory)][int]$Count)
            $item = $null
            for ($i = 0; $i -lt $Count; $i++) {
                if (-not $queue.TryTake([ref]$item, [TimeSpan]::FromSeconds(20))) { throw "Receive-CalendarNotification wrote $i of $Count notifications within 20 s." }
                $item
            }
            while ($queue.TryTake([ref]$item, [TimeSpan]::FromMilliseconds(500))) { $item }
        }
        # ---- end of RECEIVING ------------------------------------------------------------------------------------
        Write-Host "   notifications go to $hook"

        $calendars = @('team@example.com', 'room-1@resource.calendar.google.com')
        foreach ($calendarId in $calendars) {
            $emulator.NewCalendar($calendarId)
        }

        Show-Step 'Watch events and ACL of two calendars (New-CalendarEventWatch/AclWatch)'
        $channels = @(
            $calendars | New-CalendarEventWatch -Address $hook -Token 'demo'
            $calendars | New-CalendarAclWatch -Address $hook -Token 'demo'
        )
        $calendarOf = @{}
        foreach ($channel in $channels) { $calendarOf[$channel.Id] = '{0} {1}' -f $channel.CalendarId, $channel.Resource }
        $channels | Show-Table -Property CalendarId, Resource, @{ Name = 'Channel'; Expression = { $_.Id.Substring(0, 8) } }, Expiration

        $notificationColumns = @(
            @{ Name = 'Watch'; Expression = { $calendarOf[$_.ChannelId] } }
            $short
            @{ Name = 'Msg'; Expression = { $_.MessageNumber } }
            @{ Name = 'State'; Expression = { $_.ResourceState } }
        )
        function Show-Notification {
            param([Parameter(Mandatory)][string]$Title, [Parameter(Mandatory)][int]$Count)
            Show-Step $Title
            Receive-DemoNotification -Count $Count | Sort-Object { $calendarOf[$_.ChannelId] }, MessageNumber | Show-Table -Property $notificationColumns
        }

        Show-Notification -Title 'Each new channel says sync (message 1)' -Count $channels.Count
        Show-Record -When 'after the watches'

        $null = $emulator.InsertEvent('team@example.com', 'Planning')
        $null = $emulator.AddAclRule('room-1@resource.calendar.google.com', 'reader', 'user', 'bob@example.com')
        Show-Notification -Title 'A new event on team@, bob@ shares room-1@: exists' -Count 2

        Show-Step 'Renew the events channel of team@ (Update-CalendarChannel)'
        $old = $channels | Where-Object { $_.CalendarId -eq 'team@example.com' -and "$($_.Resource)" -eq 'Events' }
        $renewed = Get-CalendarChannel -Id $old.Id | Update-CalendarChannel
        $calendarOf[$renewed.Id] = "team@example.com Events"
        Write-Host "   old $($old.Id.Substring(0, 8)) -> new $($renewed.Id.Substring(0, 8))"
        Show-Notification -Title 'The new channel says sync' -Count 1
        Show-Record -When 'after the renewal'

        $null = $emulator.InsertEvent('team@example.com', 'Retro')
        Show-Notification -Title "Another event on team@: the new channel tells, old $($old.Id.Substring(0, 8)) is silent" -Count 1

        Show-Step 'Stop every live channel (Get-CalendarChannel | Stop-CalendarChannel)'
        Get-CalendarChannel | Stop-CalendarChannel
        Show-Record -When 'after stopping'

        $null = $emulator.InsertEvent('team@example.com', 'After hours')
        $null = $emulator.RemoveAclRule('room-1@resource.calendar.google.com', 'user:bob@example.com')
        Show-Notification -Title 'Changes on both calendars now: silence' -Count 0

        Write-Host ''
        Write-Host ('Done in {0:0.0} s. The channel record of the demo:' -f $started.Elapsed.TotalSeconds)
        Write-Host "   $env:CALENDARWATCH_STORE"
    }
    finally {
        if ($null -ne $receiver) {
            # Stopping the runspace's pipeline ends Receive-CalendarNotification and frees its port.
            $receiver.Stop()
            $receiver.Dispose()
        }
        if ($null -ne $emulator) { Stop-CalendarWatchEmulator -Emulator $emulator }
        Disconnect-CalendarWatch
        Remove-Module -Name CalendarWatch -ErrorAction SilentlyContinue
    }
}

switch ($Task) {
    'Build' { Invoke-Build }
    'Test' { Invoke-Test }
    'Package' { Invoke-Package }
    'Demo' { Invoke-Demo }
}
