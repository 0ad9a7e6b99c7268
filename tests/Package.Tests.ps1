# Pester 5: the package a Gallery user gets. build.ps1 -Task Package -SkipBuild packs the module already built; the
# package is put in a local folder repository, found with Find-PSResource -Command, saved with Save-PSResource into a
# temporary path, imported in a fresh PowerShell and used against the emulator. The repository used for that is
# registered under a unique name in a child process whose PSResourceGet settings live under $TestDrive (XDG_DATA_HOME
# off Windows), and unregistered whatever happens, so the user's own repositories are never changed.
# Run through ./build.ps1 -Task Test, which builds first.

BeforeAll {
    Set-StrictMode -Version Latest
    $ErrorActionPreference = 'Stop'

    $script:repositoryRoot = Split-Path -Path $PSScriptRoot -Parent
    Import-Module -Name (Join-Path -Path $PSScriptRoot -ChildPath 'CalendarWatch.TestHelpers.psm1') -Force
    $script:sourceManifest = Import-PowerShellDataFile -LiteralPath (Join-Path -Path $script:repositoryRoot -ChildPath 'CalendarWatch.psd1')
    $script:settingsHome = Join-Path -Path $TestDrive -ChildPath 'psresourceget-home'
    $null = New-Item -ItemType Directory -Path $script:settingsHome -Force

    function Invoke-PackageChild {
        # Invoke-PowerShellChild (8 minutes unless told) with, off Windows, the PSResourceGet settings folder under $TestDrive.
        param([Parameter(Mandatory)][string]$File, [string[]]$ArgumentList = @(), [TimeSpan]$Timeout = [TimeSpan]::FromMinutes(8))
        $environment = if ($IsWindows) { @{} } else { @{ XDG_DATA_HOME = $script:settingsHome } }
        Invoke-PowerShellChild -File $File -ArgumentList $ArgumentList -Timeout $Timeout -Environment $environment
    }

    $script:repositoriesBefore = @(Get-PSResourceRepository | ForEach-Object { '{0}={1}' -f $_.Name, $_.Uri })

    # 1. The package, from the module already built.
    $build = Invoke-PackageChild -File (Join-Path -Path $script:repositoryRoot -ChildPath 'build.ps1') -ArgumentList @('-Task', 'Package', '-SkipBuild')
    $build.ExitCode | Should -Be 0 -Because ($build.Output + $build.Errors)
    $script:package = [System.IO.Path]::Combine($script:repositoryRoot, 'output', 'packages', "CalendarWatch.$($script:sourceManifest.ModuleVersion).nupkg")
    $script:feed = Join-Path -Path $TestDrive -ChildPath 'feed'
    $null = New-Item -ItemType Directory -Path $script:feed -Force
    Copy-Item -LiteralPath $script:package -Destination $script:feed

    Add-Type -AssemblyName System.IO.Compression.FileSystem
    $zip = [System.IO.Compression.ZipFile]::OpenRead($script:package)
    try {
        $script:entries = @($zip.Entries | ForEach-Object { $_.FullName.Replace('\', '/') })
        $nuspecEntry = $zip.Entries | Where-Object { $_.FullName -eq 'CalendarWatch.nuspec' }
        $reader = [System.IO.StreamReader]::new($nuspecEntry.Open())
        try { $script:nuspec = [xml]$reader.ReadToEnd() } finally { $reader.Dispose() }
    }
    finally {
        $zip.Dispose()
    }

    # 2. Find it by command and save it, as a Gallery user would, from a temporary repository.
    $script:savePath = Join-Path -Path $TestDrive -ChildPath 'saved'
    $null = New-Item -ItemType Directory -Path $script:savePath -Force
    $findScript = Join-Path -Path $TestDrive -ChildPath 'find-and-save.ps1'
    Set-Content -LiteralPath $findScript -Value @'
param([string]$Feed, [string]$SavePath)
$ErrorActionPreference = 'Stop'
$name = 'CalendarWatchTest-' + [guid]::NewGuid().ToString('N')
Register-PSResourceRepository -Name $name -Uri $Feed -Trusted
try {
    $found = @(Find-PSResource -Command New-CalendarEventWatch -Repository $name)
    Save-PSResource -Name CalendarWatch -Repository $name -Path $SavePath -TrustRepository -Quiet
    [pscustomobject]@{
        Found      = @($found | ForEach-Object { $_.ParentResource.Name })
        Registered = @(Get-PSResourceRepository | Where-Object Name -eq $name).Count
    } | ConvertTo-Json -Compress
}
finally {
    Unregister-PSResourceRepository -Name $name
}
'@
    $run = Invoke-PackageChild -File $findScript -ArgumentList @('-Feed', $script:feed, '-SavePath', $script:savePath)
    $run.ExitCode | Should -Be 0 -Because ($run.Output + $run.Errors)
    $script:findResult = ($run.Output.Trim() -split "`n")[-1] | ConvertFrom-Json
}

Describe 'build.ps1 -Task Package' {
    It 'ships one copy of each file a user needs and nothing of the build: no .pdb, no deps.json, one help file, one System.Management.dll' {
        @($script:entries | Where-Object { $_ -like '*.pdb' }) | Should -BeNullOrEmpty
        @($script:entries | Where-Object { $_ -like '*.deps.json' }) | Should -BeNullOrEmpty
        @($script:entries | Where-Object { $_ -like '*-Help.xml' }) | Should -Be @('en-US/CalendarWatch.dll-Help.xml')
        @($script:entries | Where-Object { $_ -like 'bin/net8.0/*System.Management.dll' }) | Should -Be @('bin/net8.0/System.Management.dll')
        $script:entries | Should -Contain 'LICENSE'
        $script:entries | Should -Contain 'CalendarWatch.psd1'
        $script:entries | Should -Contain 'bin/net8.0/runtimes/linux-x64/native/libe_sqlite3.so'
        $script:entries | Should -Contain 'bin/net472/runtimes/win-x64/native/e_sqlite3.dll'
    }

    It 'tags the package for both editions, the three platforms and every exported cmdlet' {
        $tags = $script:nuspec.package.metadata.tags -split ' '
        foreach ($tag in @('PSEdition_Desktop', 'PSEdition_Core', 'Windows', 'Linux', 'MacOS', 'PSIncludes_Cmdlet')) {
            $tags | Should -Contain $tag
        }
        foreach ($cmdlet in $script:sourceManifest.CmdletsToExport) {
            $tags | Should -Contain "PSCmdlet_$cmdlet"
            $tags | Should -Contain "PSCommand_$cmdlet"
        }
    }

    It 'takes its release notes from the CHANGELOG.md section of its version, and its LicenseUri names the LICENSE shipped' {
        $changelog = Get-Content -LiteralPath (Join-Path -Path $script:repositoryRoot -ChildPath 'CHANGELOG.md') -Raw
        $heading = '## [' + $script:sourceManifest.ModuleVersion + ']'
        $changelog | Should -Match ([regex]::Escape($heading))
        $notes = $script:nuspec.package.metadata.releaseNotes
        $notes | Should -Match ('^' + [regex]::Escape('[' + $script:sourceManifest.ModuleVersion + ']'))
        $changelog.Replace("`r`n", "`n") | Should -Match ([regex]::Escape(($notes -split "`n")[-1].Trim()))
        $script:nuspec.package.metadata.licenseUrl | Should -BeLike '*/LICENSE'
        Get-Content -LiteralPath (Join-Path -Path $script:repositoryRoot -ChildPath 'LICENSE') -TotalCount 1 | Should -Be 'MIT License'
    }
}

Describe 'Installing the package from a repository' {
    It 'is found by Find-PSResource -Command New-CalendarEventWatch' {
        $script:findResult.Found | Should -Contain 'CalendarWatch'
        $script:findResult.Registered | Should -Be 1
    }

    It 'leaves the user''s own repositories as they were' {
        @(Get-PSResourceRepository | ForEach-Object { '{0}={1}' -f $_.Name, $_.Uri }) | Should -Be $script:repositoriesBefore
    }

    It 'saved with Save-PSResource, imports in a fresh PowerShell, shows its help and makes a channel on the emulator' {
        $saved = [System.IO.Path]::Combine($script:savePath, 'CalendarWatch', $script:sourceManifest.ModuleVersion, 'CalendarWatch.psd1')
        Test-Path -LiteralPath $saved | Should -BeTrue
        $emulator = Start-CalendarEmulator -RepositoryRoot $script:repositoryRoot
        try {
            New-EmulatorCalendar -Emulator $emulator -Id 'package@example.com'
            $useScript = Join-Path -Path $TestDrive -ChildPath 'use-saved.ps1'
            Set-Content -LiteralPath $useScript -Value @'
param([string]$Manifest, [string]$Emulator, [string]$Record)
$ErrorActionPreference = 'Stop'
$env:CALENDARWATCH_STORE = $Record
Import-Module -Name $Manifest
Connect-CalendarWatch -Emulator $Emulator
$channel = 'package@example.com' | New-CalendarEventWatch -Address 'http://127.0.0.1:9/hook' -ChannelId 'package-channel-1'
[pscustomobject]@{
    Id         = $channel.Id
    ResourceId = $channel.ResourceId
    ModuleBase = (Get-Module CalendarWatch).ModuleBase
    Synopsis   = (Get-Help New-CalendarEventWatch).Synopsis
    Recorded   = @(Get-CalendarChannel -Id 'package-channel-1').Count
} | ConvertTo-Json -Compress
'@
            $run = Invoke-PackageChild -File $useScript -ArgumentList @('-Manifest', $saved, '-Emulator', $emulator.BaseUri.AbsoluteUri,
                '-Record', (Join-Path -Path $TestDrive -ChildPath 'package-record.db')) -Timeout ([TimeSpan]::FromMinutes(3))
            $run.ExitCode | Should -Be 0 -Because ($run.Output + $run.Errors)
            $result = ($run.Output.Trim() -split "`n")[-1] | ConvertFrom-Json
            $result.Id | Should -Be 'package-channel-1'
            $result.ResourceId | Should -Not -BeNullOrEmpty
            $result.ModuleBase | Should -Be (Split-Path -Path $saved -Parent)
            $result.Synopsis | Should -Match 'events\.watch'
            $result.Recorded | Should -Be 1
            $server = @(Get-EmulatorChannel -Emulator $emulator | Where-Object { $_.id -eq 'package-channel-1' })
            $server.Count | Should -Be 1
            $server[0].resourceId | Should -Be $result.ResourceId
        }
        finally {
            Stop-CalendarEmulator -Emulator $emulator
        }
    }
}
