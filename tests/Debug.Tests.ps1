# Pester 5: -Debug ($DebugPreference) writes one line per HTTP exchange (token and API requests: method, URL, status, milliseconds,
# attempt) and never a secret. Drives the built module against the emulator started with auth, so that token
# requests happen. Run through ./build.ps1 -Task Test.

BeforeAll {
    Set-StrictMode -Version Latest
    $ErrorActionPreference = 'Stop'

    $repositoryRoot = Split-Path -Path $PSScriptRoot -Parent
    Import-Module -Name (Join-Path -Path $PSScriptRoot -ChildPath 'CalendarWatch.TestHelpers.psm1') -Force
    Import-Module -Name (Get-BuiltModuleManifest -RepositoryRoot $repositoryRoot) -Force

    $script:emulator = Start-CalendarEmulator -RepositoryRoot $repositoryRoot -WithAuth
    $suffix = [guid]::NewGuid().ToString('N').Substring(0, 8)
    $script:user = "debug-$suffix@example.com"
    $account = New-EmulatorServiceAccount -Emulator $script:emulator -KeyPath (Join-Path -Path $TestDrive -ChildPath 'debug.json') `
        -ClientEmail "debug-$suffix@pester-project.iam.gserviceaccount.com" -Subject $script:user
    $script:keyPath = $account.KeyPath
    $script:privateKeyBase64 = $account.PrivateKeyBase64
    New-EmulatorCalendar -Emulator $script:emulator -Id $script:user -Owner $script:user
    $script:hook = 'http://127.0.0.1:9/hook'
    $script:base = $script:emulator.BaseUri.AbsoluteUri

    function Assert-NoSecret {
        param([Parameter(Mandatory)][AllowEmptyString()][string]$Text)
        $Text | Should -Not -Match 'ya29\.'
        $Text | Should -Not -Match 'eyJ[A-Za-z0-9_-]{8,}'
        $Text | Should -Not -Match 'PRIVATE KEY|assertion|Bearer'
        $Text.Contains($script:privateKeyBase64.Substring(100, 40)) | Should -BeFalse
        $Text | Should -Not -Match 'debug-channel-token'
    }

    function Get-DebugLine {
        param([Parameter(Mandatory)][object[]]$Stream)
        @($Stream | Where-Object { $_ -is [System.Management.Automation.DebugRecord] } | ForEach-Object Message)
    }
}

AfterAll {
    Disconnect-CalendarWatch
    Stop-CalendarEmulator -Emulator $script:emulator
    Remove-Module -Name CalendarWatch -ErrorAction SilentlyContinue
}

Describe '-Debug' {
    # -Debug on a compiled cmdlet makes PowerShell ask after each debug line (Inquire), which needs a console;
    # $DebugPreference = 'Continue' is what a script sets, and what the command reads the same way.
    It 'writes one line for the token request and one for the watch: method, URL, status, milliseconds, attempt' {
        $DebugPreference = 'Continue'
        # No -Subject here: Connect-CalendarWatch fetches the service account's own token in the background, so the
        # watch as the user is the one to ask for the user's token, and says so.
        Connect-CalendarWatch -KeyFile $script:keyPath -ApiEndpoint $script:emulator.BaseUri
        $stream = @([PSCustomObject]@{ CalendarId = 'primary'; Subject = $script:user } |
                New-CalendarEventWatch -Address $script:hook -Token 'debug-channel-token' -EventType default -NoRecord 5>&1)
        $channel = @($stream | Where-Object { $_ -isnot [System.Management.Automation.DebugRecord] })
        $lines = Get-DebugLine -Stream $stream

        $channel.Count | Should -Be 1
        $lines.Count | Should -Be 2
        $lines[0] | Should -Match ('^HTTP token POST ' + [regex]::Escape($script:base + 'token') + ' -> 200 in \d+ ms$')
        $lines[1] | Should -Match ('^HTTP API POST ' + [regex]::Escape($script:base + 'calendar/v3/calendars/primary/events/watch?eventTypes=default') + ' -> 200 in \d+ ms \(attempt 1\)$')
        Assert-NoSecret -Text ($lines -join "`n")
    }

    It 'numbers the attempts of a retried request, and says the stop''s exchange too' {
        $DebugPreference = 'Continue'
        Connect-CalendarWatch -KeyFile $script:keyPath -ApiEndpoint $script:emulator.BaseUri -Subject $script:user -MaxRetry 1
        $channel = 'primary' | New-CalendarAclWatch -Address $script:hook -NoRecord
        Set-EmulatorFault -Emulator $script:emulator -Fault @{ error503Rate = 1 }
        try {
            $stream = @('primary' | New-CalendarEventWatch -Address $script:hook -NoRecord -ErrorAction SilentlyContinue 5>&1)
        }
        finally {
            Set-EmulatorFault -Emulator $script:emulator -Fault @{}
        }
        # The API lines only: the token may have come from Connect-CalendarWatch's background fetch.
        $lines = @(Get-DebugLine -Stream $stream | Where-Object { $_ -like 'HTTP API *' })
        $lines.Count | Should -Be 2
        $lines[0] | Should -Match '^HTTP API POST .*/events/watch -> 503 in \d+ ms \(attempt 1\)$'
        $lines[1] | Should -Match '^HTTP API POST .*/events/watch -> 503 in \d+ ms \(attempt 2\)$'

        $stopStream = @($channel | Stop-CalendarChannel -NoRecord 5>&1 2>&1)
        $stopLines = @(Get-DebugLine -Stream $stopStream | Where-Object { $_ -like 'HTTP API *' })
        $stopLines.Count | Should -Be 1 -Because ($stopStream -join "`n")
        $stopLines[0] | Should -Match ('^HTTP API POST ' + [regex]::Escape($script:base + 'calendar/v3/channels/stop') + ' -> 2\d\d in \d+ ms \(attempt 1\)$')
        Assert-NoSecret -Text (($lines + $stopLines) -join "`n")
    }

    It 'writes nothing to the debug stream without -Debug' {
        Connect-CalendarWatch -KeyFile $script:keyPath -ApiEndpoint $script:emulator.BaseUri -Subject $script:user
        $stream = @('primary' | New-CalendarEventWatch -Address $script:hook -NoRecord 5>&1)
        Get-DebugLine -Stream $stream | Should -BeNullOrEmpty
    }
}
