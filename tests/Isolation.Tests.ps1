# Pester 5: on PowerShell 7 CalendarWatch keeps its assemblies and dependencies in a load context of its own. Another
# copy of a library it bundles (Google.Apis.Auth 1.68.0 as PSGSuite ships it, Newtonsoft.Json 13.0.1, Polly.Core
# 8.4.2), loaded by other code before or after CalendarWatch, must leave both working. Each case runs in a fresh
# PowerShell process (tests/Isolation.Case.ps1), since a load order cannot be undone in this one. Drives the built
# module against the emulator started with auth. Run through ./build.ps1 -Task Test, which builds first.

BeforeDiscovery {
    # Each library: the other copy's files (NuGet package, version, path inside it; tests/Tools/Tools.csproj downloads
    # them) in load order, and what the other copy's version must be.
    $script:libraryCases = @(
        @{
            Library      = 'Google.Apis.Auth'
            Files        = @(
                @{ Id = 'Google.Apis.Core'; Version = '1.68.0'; Path = 'lib/net6.0/Google.Apis.Core.dll' }
                @{ Id = 'Google.Apis'; Version = '1.68.0'; Path = 'lib/net6.0/Google.Apis.dll' }
                @{ Id = 'Google.Apis.Auth'; Version = '1.68.0'; Path = 'lib/net6.0/Google.Apis.Auth.dll' }
            )
            OtherVersion = '1.68.0'
        }
        @{
            Library      = 'Newtonsoft.Json'
            Files        = @(@{ Id = 'Newtonsoft.Json'; Version = '13.0.1'; Path = 'lib/netstandard2.0/Newtonsoft.Json.dll' })
            # PowerShell 7 loads its own Newtonsoft.Json at start-up, and Add-Type of another 13.x hands back that one:
            # the other code gets PowerShell's copy, with or without CalendarWatch (checked in the test).
            OtherVersion = 'PowerShell'
        }
        @{
            Library      = 'Polly.Core'
            Files        = @(@{ Id = 'Polly.Core'; Version = '8.4.2'; Path = 'lib/net8.0/Polly.Core.dll' })
            OtherVersion = '8.4.2'
        }
    )
    $script:cases = foreach ($case in $script:libraryCases) {
        foreach ($order in @('Before', 'After')) {
            $case + @{ Order = $order }
        }
    }
}

BeforeAll {
    Set-StrictMode -Version Latest
    $ErrorActionPreference = 'Stop'

    $script:repositoryRoot = Split-Path -Path $PSScriptRoot -Parent
    Import-Module -Name (Join-Path -Path $PSScriptRoot -ChildPath 'CalendarWatch.TestHelpers.psm1') -Force
    $script:builtManifest = Get-BuiltModuleManifest -RepositoryRoot $script:repositoryRoot
    $script:moduleBin = [System.IO.Path]::Combine((Split-Path -Path $script:builtManifest -Parent), 'bin', 'net8.0')
    $script:caseScript = Join-Path -Path $PSScriptRoot -ChildPath 'Isolation.Case.ps1'

    $script:emulator = Start-CalendarEmulator -RepositoryRoot $script:repositoryRoot -WithAuth
    $script:receiver = Start-WebhookReceiver
    $script:address = [Uri]::new($script:receiver.Address, 'isolation')
    $suffix = [guid]::NewGuid().ToString('N').Substring(0, 8)
    # Without -Subject the service account acts as itself: "primary" is its own calendar, which the emulator gives it.
    $script:serviceAccount = New-EmulatorServiceAccount -Emulator $script:emulator -KeyPath (Join-Path -Path $TestDrive -ChildPath 'isolation.json') `
        -ClientEmail "isolation-$suffix@pester-project.iam.gserviceaccount.com"

    function Invoke-IsolationCase {
        param(
            [Parameter(Mandatory)][string]$Library,
            [Parameter(Mandatory)][string]$Order,
            [Parameter(Mandatory)][object[]]$Files
        )

        $paths = foreach ($file in $Files) {
            Get-TestPackageFile -RepositoryRoot $script:repositoryRoot -Id $file.Id -Version $file.Version -Path $file.Path
        }

        $resultPath = Join-Path -Path $TestDrive -ChildPath ('{0}-{1}.json' -f $Library, $Order)
        $run = Invoke-PowerShellChild -File $script:caseScript -ArgumentList @(
            '-Library', $Library, '-Order', $Order, '-LibraryFiles', (@($paths) -join [System.IO.Path]::PathSeparator),
            '-ModuleManifest', $script:builtManifest, '-KeyFile', $script:serviceAccount.KeyPath,
            '-ApiEndpoint', $script:emulator.BaseUri.AbsoluteUri, '-Address', $script:address.AbsoluteUri, '-ResultPath', $resultPath)
        $run.ExitCode | Should -Be 0 -Because ($run.Output + $run.Errors)
        Test-Path -LiteralPath $resultPath | Should -BeTrue -Because ($run.Output + $run.Errors)
        Get-Content -LiteralPath $resultPath -Raw | ConvertFrom-Json
    }

    function Get-ServerChannel {
        param([Parameter(Mandatory)][string]$Id)
        @(Get-EmulatorChannel -Emulator $script:emulator | Where-Object { $_.id -eq $Id })
    }
}

AfterAll {
    Stop-WebhookReceiver -Receiver $script:receiver
    Stop-CalendarEmulator -Emulator $script:emulator
}

Describe 'Another copy of a library CalendarWatch bundles, loaded <Order> CalendarWatch' -ForEach $script:cases {
    It 'keeps both working: Connect-CalendarWatch -KeyFile and New-CalendarEventWatch, and the other <Library>' {
        $case = Invoke-IsolationCase -Library $Library -Order $Order -Files $Files

        # What the user sees: no step failed ...
        @($case.Errors) | Should -BeNullOrEmpty -Because ($case.Errors -join [Environment]::NewLine)

        # ... the other code's call worked, on the copy it loaded (for Newtonsoft.Json: PowerShell's own, as without CalendarWatch) ...
        $case.Other.Result | Should -Be $(if ($Library -eq 'Polly.Core') { 'attempts: 2' } else { $script:serviceAccount.ClientEmail })
        $case.Other.Context | Should -Be 'Default'
        if ($OtherVersion -eq 'PowerShell') {
            $case.Other.Location | Should -Be (Join-Path -Path $PSHOME -ChildPath 'Newtonsoft.Json.dll')
        }
        else {
            $case.Other.FileVersion | Should -BeLike "$OtherVersion.*"
        }

        # ... and every watch CalendarWatch made exists, owned by the service account.
        $expectedWatches = if ($Order -eq 'Before') { 1 } else { 2 }
        @($case.ChannelIds).Count | Should -Be $expectedWatches
        foreach ($id in @($case.ChannelIds)) {
            $server = Get-ServerChannel -Id $id
            $server.Count | Should -Be 1
            $server[0].owner | Should -Be $script:serviceAccount.ClientEmail
        }

        # Two copies side by side: the other one in the default context, CalendarWatch's own from its module folder in its context.
        $copies = @($case.Copies)
        $copies.Count | Should -Be 2 -Because ($copies | ConvertTo-Json)
        $own = @($copies | Where-Object { $_.Context -eq 'CalendarWatch' })
        $own.Count | Should -Be 1 -Because ($copies | ConvertTo-Json)
        $own[0].Location | Should -Be (Join-Path -Path $script:moduleBin -ChildPath "$Library.dll")
    }
}

Describe 'Import-Module again in the same process' {
    It 'keeps the cmdlets working after Import-Module -Force and after Remove-Module, with only the loader in the default context' {
        $script = Join-Path -Path $TestDrive -ChildPath 'reimport.ps1'
        Set-Content -LiteralPath $script -Encoding utf8 -Value @'
param([string]$ModuleManifest, [string]$KeyFile, [string]$ApiEndpoint, [string]$Address)
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
$channelIds = @(
    Import-Module -Name $ModuleManifest
    Import-Module -Name $ModuleManifest -Force
    Connect-CalendarWatch -KeyFile $KeyFile -ApiEndpoint $ApiEndpoint
    (New-CalendarEventWatch -CalendarId 'primary' -Address $Address).Id
    Remove-Module -Name CalendarWatch
    Import-Module -Name $ModuleManifest
    Connect-CalendarWatch -KeyFile $KeyFile -ApiEndpoint $ApiEndpoint
    (New-CalendarEventWatch -CalendarId 'primary' -Address $Address).Id
)
$moduleFolder = Split-Path -Path $ModuleManifest -Parent
[ordered]@{
    ChannelIds     = $channelIds
    Commands       = @(Get-Command -Module CalendarWatch | ForEach-Object { $_.Name } | Sort-Object)
    # Every assembly of the default load context loaded from the module's folder.
    DefaultContext = @([System.Runtime.Loader.AssemblyLoadContext]::Default.Assemblies |
        Where-Object { $_.Location -and $_.Location.StartsWith($moduleFolder) } |
        ForEach-Object { [System.IO.Path]::GetFileName($_.Location) })
} | ConvertTo-Json -Compress
'@

        $run = Invoke-PowerShellChild -File $script -ArgumentList @(
            '-ModuleManifest', $script:builtManifest, '-KeyFile', $script:serviceAccount.KeyPath,
            '-ApiEndpoint', $script:emulator.BaseUri.AbsoluteUri, '-Address', $script:address.AbsoluteUri)
        $run.ExitCode | Should -Be 0 -Because ($run.Output + $run.Errors)
        $result = $run.Output | ConvertFrom-Json

        @($result.ChannelIds).Count | Should -Be 2
        foreach ($id in @($result.ChannelIds)) {
            (Get-ServerChannel -Id $id).Count | Should -Be 1
        }

        @($result.Commands) | Should -Be @((Import-PowerShellDataFile -LiteralPath $script:builtManifest).CmdletsToExport | Sort-Object)
        @($result.DefaultContext) | Should -Be @('CalendarWatch.LoadContext.dll')
    }
}
