# Pester 5: Connect-CalendarWatch with a service account key against the emulator started WITH auth (it verifies the
# JWT's signature, iss and sub like Google), per-item -Subject, -Connection, Get-/Disconnect-CalendarWatch, and that
# no token or key ever reaches output, -Verbose or -Debug. Run through ./build.ps1 -Task Test, which builds first.

BeforeAll {
    Set-StrictMode -Version Latest
    $ErrorActionPreference = 'Stop'

    $repositoryRoot = Split-Path -Path $PSScriptRoot -Parent
    Import-Module -Name (Join-Path -Path $PSScriptRoot -ChildPath 'CalendarWatch.TestHelpers.psm1') -Force
    $builtManifest = Get-BuiltModuleManifest -RepositoryRoot $repositoryRoot
    Import-Module -Name $builtManifest -Force

    $script:emulator = Start-CalendarEmulator -RepositoryRoot $repositoryRoot -WithAuth
    $script:receiver = Start-WebhookReceiver
    $script:address = [Uri]::new($script:receiver.Address, 'hook')

    # A service account whose key is generated here: the emulator knows only its public half.
    $suffix = [guid]::NewGuid().ToString('N').Substring(0, 8)
    $script:users = @("alice-$suffix@example.com", "bob-$suffix@example.com", "carol-$suffix@example.com")
    $account = New-EmulatorServiceAccount -Emulator $script:emulator -KeyPath (Join-Path -Path $TestDrive -ChildPath 'watcher.json') `
        -ClientEmail "watcher-$suffix@pester-project.iam.gserviceaccount.com" -Subject $script:users
    $script:serviceAccount = $account.ClientEmail
    $script:clientId = $account.ClientId
    $script:keyPath = $account.KeyPath
    $script:privateKeyBase64 = $account.PrivateKeyBase64

    # Each user owns their primary calendar (its id is their address), so "primary" as that user is that calendar.
    foreach ($user in $script:users) {
        New-EmulatorCalendar -Emulator $script:emulator -Id $user -Owner $user
    }

    # The token requests the emulator answered for one user, from its stats.
    function Get-TokenRequestCount {
        param([Parameter(Mandatory)][string]$Subject)
        # As a hashtable: the service account's own requests are counted under an empty subject, which a PSObject cannot hold.
        $stats = (Invoke-WebRequest -Uri ([Uri]::new($script:emulator.BaseUri, 'emulator/v1/stats'))).Content | ConvertFrom-Json -AsHashtable
        $bySubject = $stats['tokenRequestsByClientAndSubject'][$script:clientId]
        if ($null -eq $bySubject -or -not $bySubject.ContainsKey($Subject)) { return 0 }
        [int]$bySubject[$Subject]
    }

    function Get-ServerChannel {
        param([Parameter(Mandatory)][string]$Id)
        @(Get-EmulatorChannel -Emulator $script:emulator | Where-Object { $_.id -eq $Id })
    }

    # Text that must never appear: bearer tokens (the emulator's start with ya29.), JWTs (eyJ...) and the private key.
    function Assert-NoSecret {
        param([Parameter(Mandatory)][AllowEmptyString()][string]$Text)
        $Text | Should -Not -Match 'ya29\.'
        $Text | Should -Not -Match 'eyJ[A-Za-z0-9_-]{8,}\.'
        $Text | Should -Not -Match 'PRIVATE KEY'
        $Text.Contains($script:privateKeyBase64.Substring(0, 40)) | Should -BeFalse
        $Text.Contains($script:privateKeyBase64.Substring(200, 40)) | Should -BeFalse
    }
}

AfterAll {
    Disconnect-CalendarWatch
    Stop-WebhookReceiver -Receiver $script:receiver
    Stop-CalendarEmulator -Emulator $script:emulator
    Remove-Module -Name CalendarWatch -ErrorAction SilentlyContinue
}

Describe 'Connect-CalendarWatch -KeyFile against the emulator with auth' {
    BeforeEach {
        Connect-CalendarWatch -KeyFile $script:keyPath -ApiEndpoint $script:emulator.BaseUri
    }

    It 'watches each piped user''s own calendar as that user with New-CalendarEventWatch' {
        $rows = @(
            [PSCustomObject]@{ Subject = $script:users[0]; Department = 'Sales' }
            [PSCustomObject]@{ Subject = $script:users[1]; Department = 'Support' }
        )

        $channels = @($rows | New-CalendarEventWatch -CalendarId 'primary' -Address $script:address)

        $channels.Count | Should -Be 2
        foreach ($i in 0..1) {
            $channels[$i].Subject | Should -Be $script:users[$i]
            $channels[$i].Resource | Should -Be 'Events'
            $server = @(Get-ServerChannel -Id $channels[$i].Id)
            $server.Count | Should -Be 1
            $server[0].owner | Should -Be $script:users[$i]
        }
    }

    It 'watches each user''s ACL as that user with New-CalendarAclWatch from Import-Csv' {
        $csv = Join-Path -Path $TestDrive -ChildPath 'users.csv'
        @($script:users[1], $script:users[2]) | ForEach-Object { [PSCustomObject]@{ Subject = $_; Name = "User $_" } } |
            Export-Csv -LiteralPath $csv -NoTypeInformation

        $channels = @(Import-Csv -LiteralPath $csv | New-CalendarAclWatch -CalendarId 'primary' -Address $script:address)

        $channels.Count | Should -Be 2
        @($channels | ForEach-Object { $_.Resource }) | Should -Be @('Acl', 'Acl')
        $owners = @($channels | ForEach-Object { @(Get-ServerChannel -Id $_.Id)[0].owner })
        $owners | Should -Be @($script:users[1], $script:users[2])
    }

    It 'binds -Subject from a UserPrincipalName property' {
        $channel = [PSCustomObject]@{ UserPrincipalName = $script:users[2] } | New-CalendarEventWatch -CalendarId 'primary' -Address $script:address

        @(Get-ServerChannel -Id $channel.Id)[0].owner | Should -Be $script:users[2]
    }

    It 'acts as Connect-CalendarWatch -Subject when an item gives none' {
        Connect-CalendarWatch -KeyFile $script:keyPath -ApiEndpoint $script:emulator.BaseUri -Subject $script:users[0]

        $channel = New-CalendarEventWatch -CalendarId 'primary' -Address $script:address

        @(Get-ServerChannel -Id $channel.Id)[0].owner | Should -Be $script:users[0]
    }

    It 'resolves a relative -KeyFile path against the current location' {
        Push-Location -LiteralPath $TestDrive
        try {
            $info = Connect-CalendarWatch -KeyFile (Join-Path -Path '.' -ChildPath 'watcher.json') -ApiEndpoint $script:emulator.BaseUri -PassThru
        }
        finally {
            Pop-Location
        }

        $info.Kind | Should -Be 'ServiceAccount'
        $info.Account | Should -Be $script:serviceAccount
    }

    It 'writes no token or key to -Verbose or -Debug' {
        $VerbosePreference = 'Continue'
        $DebugPreference = 'Continue'
        try {
            $records = @(& {
                Connect-CalendarWatch -KeyFile $script:keyPath -ApiEndpoint $script:emulator.BaseUri -Scope 'calendar.events.readonly', 'calendar.acls.readonly' -PassThru -Verbose
                [PSCustomObject]@{ Subject = $script:users[0] } | New-CalendarEventWatch -CalendarId 'primary' -Address $script:address -Verbose -Debug
                [PSCustomObject]@{ Subject = $script:users[1] } | New-CalendarAclWatch -CalendarId 'primary' -Address $script:address -Verbose -Debug
                Get-CalendarWatchConnection -Verbose
            } 4>&1 5>&1)
        }
        finally {
            $VerbosePreference = 'SilentlyContinue'
            $DebugPreference = 'SilentlyContinue'
        }

        $messages = @($records | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] -or $_ -is [System.Management.Automation.DebugRecord] } | ForEach-Object { $_.Message })
        $messages.Count | Should -BeGreaterThan 2
        $text = $messages -join [Environment]::NewLine
        $text | Should -Match ([regex]::Escape($script:serviceAccount))
        Assert-NoSecret -Text $text

        $objects = @($records | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] -and $_ -isnot [System.Management.Automation.DebugRecord] })
        $objects.Count | Should -Be 4
        Assert-NoSecret -Text (($objects | Format-List * | Out-String) + ($objects | Out-String))
    }

    It 'refuses a key file of type authorized_user and keeps the current connection' {
        $userKey = Join-Path -Path $TestDrive -ChildPath 'authorized-user.json'
        [ordered]@{
            type          = 'authorized_user'
            client_id     = '764086051850-example.apps.googleusercontent.com'
            client_secret = 'd-FL95Q19q7MQmFpd7hHD0Ty'
            refresh_token = '1//0example-refresh-token'
        } | ConvertTo-Json | Set-Content -LiteralPath $userKey -Encoding utf8

        $failure = $null
        try {
            Connect-CalendarWatch -KeyFile $userKey -ApiEndpoint $script:emulator.BaseUri
        }
        catch {
            $failure = $_
        }

        $failure | Should -Not -BeNullOrEmpty
        $failure.FullyQualifiedErrorId | Should -BeLike 'CalendarWatch.UnsupportedCredentialType,*'
        $failure.CategoryInfo.Category | Should -Be 'InvalidArgument'
        $failure.Exception.Message | Should -Match 'authorized_user'
        $failure.Exception.Message | Should -Not -Match '1//0example-refresh-token'
        $failure.Exception.Message | Should -Not -Match 'd-FL95Q19q7MQmFpd7hHD0Ty'
        (Get-CalendarWatchConnection).Kind | Should -Be 'ServiceAccount'
    }

    It 'names a missing key file with CalendarWatch.KeyFileNotFound' {
        $missing = Join-Path -Path $TestDrive -ChildPath 'no-such-key.json'
        { Connect-CalendarWatch -KeyFile $missing } | Should -Throw -ErrorId 'CalendarWatch.KeyFileNotFound*'
    }
}

Describe 'Get-CalendarWatchConnection and Disconnect-CalendarWatch' {
    It 'shows kind, account, subject, scopes and endpoint, and no secret' {
        Connect-CalendarWatch -KeyFile $script:keyPath -ApiEndpoint $script:emulator.BaseUri -Subject $script:users[0]
        # A token is fetched and cached, so there is one the connection could leak.
        $null = New-CalendarEventWatch -CalendarId 'primary' -Address $script:address

        $info = Get-CalendarWatchConnection

        $info.PSObject.TypeNames[0] | Should -Be 'CalendarWatch.ConnectionInfo'
        $info.Kind | Should -Be 'ServiceAccount'
        $info.Account | Should -Be $script:serviceAccount
        $info.DefaultSubject | Should -Be $script:users[0]
        @($info.Scopes).Count | Should -Be 0
        $info.Endpoint | Should -Be $script:emulator.BaseUri

        $view = $info | Out-String
        $view | Should -Match ([regex]::Escape('(narrowest per method)'))
        $text = $view + ($info | Format-List * | Out-String) + ($info | ConvertTo-Json -Depth 3) + $info.ToString()
        Assert-NoSecret -Text $text
    }

    It 'shows the scopes given with -Scope in full' {
        Connect-CalendarWatch -KeyFile $script:keyPath -ApiEndpoint $script:emulator.BaseUri -Scope 'calendar.readonly'

        @((Get-CalendarWatchConnection).Scopes) | Should -Be @('https://www.googleapis.com/auth/calendar.readonly')
    }

    It 'shows nothing after Disconnect-CalendarWatch, and disconnecting twice is fine' {
        Connect-CalendarWatch -KeyFile $script:keyPath -ApiEndpoint $script:emulator.BaseUri

        Disconnect-CalendarWatch
        Disconnect-CalendarWatch

        @(Get-CalendarWatchConnection).Count | Should -Be 0
        $verbose = @(Get-CalendarWatchConnection -Verbose 4>&1 | ForEach-Object { $_.Message }) -join ' '
        $verbose | Should -Match 'Not connected'
    }
}

Describe '-Connection and -NoStore for two identities' {
    It 'uses an explicit connection and leaves the session''s alone' {
        Disconnect-CalendarWatch
        $asAlice = Connect-CalendarWatch -KeyFile $script:keyPath -ApiEndpoint $script:emulator.BaseUri -Subject $script:users[0] -NoStore
        $asBob = Connect-CalendarWatch -KeyFile $script:keyPath -ApiEndpoint $script:emulator.BaseUri -Subject $script:users[1] -NoStore

        @(Get-CalendarWatchConnection).Count | Should -Be 0
        $asAlice.DefaultSubject | Should -Be $script:users[0]

        $first = New-CalendarEventWatch -CalendarId 'primary' -Address $script:address -Connection $asAlice
        $second = New-CalendarAclWatch -CalendarId 'primary' -Address $script:address -Connection $asBob

        @(Get-ServerChannel -Id $first.Id)[0].owner | Should -Be $script:users[0]
        @(Get-ServerChannel -Id $second.Id)[0].owner | Should -Be $script:users[1]
    }

    It 'keeps a -PassThru connection usable after Disconnect-CalendarWatch' {
        $stored = Connect-CalendarWatch -KeyFile $script:keyPath -ApiEndpoint $script:emulator.BaseUri -Subject $script:users[2] -PassThru
        Disconnect-CalendarWatch

        $channel = New-CalendarEventWatch -CalendarId 'primary' -Address $script:address -Connection $stored

        @(Get-ServerChannel -Id $channel.Id)[0].owner | Should -Be $script:users[2]
    }

    It 'refuses something that is not a connection' {
        { New-CalendarEventWatch -CalendarId 'primary' -Address $script:address -Connection 'not-a-connection' } |
            Should -Throw -ErrorId 'ParameterArgumentTransformationError*'
    }
}

Describe 'Connect-CalendarWatch -Emulator against the emulator with auth' {
    It 'says that the emulator requires auth and how to connect' {
        Connect-CalendarWatch -Emulator $script:emulator.BaseUri

        $channels = @(New-CalendarEventWatch -CalendarId 'primary' -Address $script:address -ErrorVariable failures -ErrorAction SilentlyContinue)

        $channels.Count | Should -Be 0
        $failures.Count | Should -Be 1
        $failures[0].FullyQualifiedErrorId | Should -BeLike 'CalendarWatch.EmulatorRequiresAuth,*'
        $failures[0].CategoryInfo.Category | Should -Be 'AuthenticationError'
        $failures[0].TargetObject | Should -Be 'primary'
        $failures[0].Exception.Message | Should -Match '--no-auth'
        $failures[0].Exception.Message | Should -Match ([regex]::Escape([Uri]::new($script:emulator.BaseUri, "token").AbsoluteUri))
    }
}

Describe 'Connect-CalendarWatch fetches the first token in the background' {
    It 'asks once for the default subject''s events token before any command, says so with -Verbose, and the first watch asks for no other' {
        $user = $script:users[1]
        $before = Get-TokenRequestCount -Subject $user

        $verbose = @(Connect-CalendarWatch -KeyFile $script:keyPath -ApiEndpoint $script:emulator.BaseUri -Subject $user -Verbose 4>&1 | ForEach-Object Message)

        ($verbose -join "`n") | Should -Match ([regex]::Escape("Fetching the first token ($user; https://www.googleapis.com/auth/calendar.events.readonly) in the background"))
        # No command runs meanwhile: the request the emulator answers comes from Connect-CalendarWatch (polled, up to 30 s).
        $deadline = [DateTime]::UtcNow.AddSeconds(30)
        while ((Get-TokenRequestCount -Subject $user) -eq $before -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 20 }
        Get-TokenRequestCount -Subject $user | Should -Be ($before + 1)

        $channel = New-CalendarEventWatch -CalendarId 'primary' -Address $script:address -NoRecord

        @(Get-ServerChannel -Id $channel.Id)[0].owner | Should -Be $user
        Get-TokenRequestCount -Subject $user | Should -Be ($before + 1)
        Assert-NoSecret -Text ($verbose -join "`n")
    }

    It 'connects without a word when that fetch fails; the first command reports why, and the next asks again' {
        $stranger = "stranger-$([guid]::NewGuid().ToString('N').Substring(0, 8))@example.com"

        $stream = @(Connect-CalendarWatch -KeyFile $script:keyPath -ApiEndpoint $script:emulator.BaseUri -Subject $stranger 3>&1 2>&1)
        # The background fetch has reached the token endpoint (polled, up to 30 s), so it cannot come after the commands.
        $deadline = [DateTime]::UtcNow.AddSeconds(30)
        while ((Get-TokenRequestCount -Subject $stranger) -eq 0 -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 20 }
        $errors = $null
        # Shares the refused fetch if it is still under way, or asks again if it is over: either way it says why.
        $channel = New-CalendarEventWatch -CalendarId 'primary' -Address $script:address -NoRecord -ErrorAction SilentlyContinue -ErrorVariable errors
        $asked = Get-TokenRequestCount -Subject $stranger
        $null = New-CalendarEventWatch -CalendarId 'primary' -Address $script:address -NoRecord -ErrorAction SilentlyContinue -ErrorVariable +errors

        $stream | Should -BeNullOrEmpty
        $channel | Should -BeNullOrEmpty
        @($errors).Count | Should -Be 2
        foreach ($record in $errors) {
            $record.Exception.Message | Should -Match ([regex]::Escape($stranger))
        }
        $asked | Should -BeIn 1, 2
        Get-TokenRequestCount -Subject $stranger | Should -Be ($asked + 1) -Because 'a refused token is never kept'
    }
}
