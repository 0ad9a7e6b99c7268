# Pester 5: build.ps1 -Task Demo, the product's tour, as a user runs it (in a fresh PowerShell, against the module
# already built): every step shows what it promises, at 80 columns, in well under a minute.

BeforeAll {
    Set-StrictMode -Version Latest
    $ErrorActionPreference = 'Stop'

    Import-Module -Name (Join-Path -Path $PSScriptRoot -ChildPath 'CalendarWatch.TestHelpers.psm1') -Force
    $repositoryRoot = Split-Path -Path $PSScriptRoot -Parent
    $powerShell = @(Get-PowerShellCommand)
    $arguments = @($powerShell | Select-Object -Skip 1) + @('-NoProfile', '-NonInteractive', '-File', (Join-Path -Path $repositoryRoot -ChildPath 'build.ps1'), '-Task', 'Demo', '-SkipBuild')
    $clock = [System.Diagnostics.Stopwatch]::StartNew()
    $script:output = @(& $powerShell[0] @arguments 2>&1 | ForEach-Object { "$_" })
    $script:exitCode = $LASTEXITCODE
    $script:elapsed = $clock.Elapsed
    $script:text = $script:output -join "`n"
}

Describe 'build.ps1 -Task Demo' {
    It 'runs to the end in under a minute' {
        $script:exitCode | Should -Be 0 -Because $script:text
        $script:text | Should -Match 'Done in [0-9.]+ s'
        $script:elapsed | Should -BeLessThan ([TimeSpan]::FromMinutes(1))
    }

    It 'fits 80 columns' {
        @($script:output | Where-Object { $_.Length -gt 80 }) | Should -BeNullOrEmpty
    }

    It 'shows sync for the four channels, then exists for the two changes' {
        $sync = $script:text.Substring($script:text.IndexOf('== Each new channel says sync'))
        $sync = $sync.Substring(0, $sync.IndexOf('== The channel record after the watches'))
        ([regex]::Matches($sync, '\s1 sync')).Count | Should -Be 4

        $exists = $script:text.Substring($script:text.IndexOf('== A new event on team@'))
        $exists = $exists.Substring(0, $exists.IndexOf('== Renew'))
        ([regex]::Matches($exists, '\s2 exists')).Count | Should -Be 2
    }

    It 'shows the renewal: the old channel Replaced, the new one delivering and the old one silent' {
        $renewal = [regex]::Match($script:text, 'old (\w{8}) -> new (\w{8})')
        $renewal.Success | Should -BeTrue
        $old = $renewal.Groups[1].Value
        $new = $renewal.Groups[2].Value
        $script:text | Should -Match "$old\s+Replaced"
        $script:text | Should -Match "$new\s+Active\s+$old"

        $after = $script:text.Substring($script:text.IndexOf('== Another event on team@'))
        $after = $after.Substring(0, $after.IndexOf('== Stop every live channel'))
        $after | Should -Match "$new\s+2 exists"
        ([regex]::Matches($after, 'exists')).Count | Should -Be 1
    }

    It 'shows every channel stopped, then silence' {
        $stopped = $script:text.Substring($script:text.IndexOf('== The channel record after stopping'))
        $stopped = $stopped.Substring(0, $stopped.IndexOf('== Changes on both calendars now'))
        ([regex]::Matches($stopped, 'Stopped')).Count | Should -Be 4
        $stopped | Should -Not -Match 'Active'

        $silence = $script:text.Substring($script:text.IndexOf('== Changes on both calendars now'))
        $silence | Should -Match '\(none\)'
    }
}
