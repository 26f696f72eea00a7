# Dialtone's side of the `powershell` TeamsAdmin adapter: one long-lived pwsh per worker process runs
# this script and speaks a line protocol on stdin/stdout (contract: protocol.ts next to this file).
#   in:  one JSON command per line  {"id":1,"op":"findMany","upns":["a@contoso.com"]}
#   out: exactly one JSON answer line per command
#        {"id":1,"ok":true,"result":{...}}  or  {"id":1,"ok":false,"error":{"kind":"notFound","message":"...","code":"..."}}
# Nothing else is written to stdout: pipeline output is captured, the host's writer is pointed at stderr,
# and the warning/verbose/debug/information streams are dropped per command. The script ends on stdin EOF
# (so a killed worker leaves no orphan) and on {"op":"quit"}. Tokens are never echoed, and every error
# text is scrubbed of anything that looks like a JWT before it is answered.

# The pinned module version. 7.6.0 was released 2026-01-23 (MicrosoftTeams release notes, summarised at
# https://office365itpros.com/2021/05/04/teams-updated-powershell-module); application-based
# authentication, including New-/Get-/Sync-CsOnlineApplicationInstance in the commercial cloud and GCC,
# needs 4.7.1-preview or later (https://learn.microsoft.com/microsoftteams/teams-powershell-application-authentication).
# Keep in step with PINNED_TEAMS_MODULE_VERSION in protocol.ts (a test compares them).
$PinnedModuleVersion = '7.6.0'
$ModuleName = 'MicrosoftTeams'

$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$InformationPreference = 'SilentlyContinue'
$WarningPreference = 'SilentlyContinue'
$VerbosePreference = 'SilentlyContinue'
$DebugPreference = 'SilentlyContinue'
$ConfirmPreference = 'None'

# Answers go through a writer of our own on the real stdout; Console.Out (which the host and .NET
# libraries write to) is pointed at stderr, so their noise cannot corrupt the stream.
$utf8 = [System.Text.UTF8Encoding]::new($false)
$answerWriter = [System.IO.StreamWriter]::new([Console]::OpenStandardOutput(), $utf8)
$answerWriter.AutoFlush = $true
$answerWriter.NewLine = "`n"
[Console]::SetOut([Console]::Error)
$commandReader = [System.IO.StreamReader]::new([Console]::OpenStandardInput(), $utf8)

$script:connected = $false
$script:moduleImported = $false

function Hide-Secrets([string] $text) {
  if ($null -eq $text) { return '' }
  # JWTs (access tokens) and anything after "Bearer".
  $text = [regex]::Replace($text, 'eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*', '[token]')
  return [regex]::Replace($text, '(?i)bearer\s+\S+', 'Bearer [token]')
}

function Send-Answer([hashtable] $answer) {
  $answerWriter.WriteLine((ConvertTo-Json -InputObject $answer -Compress -Depth 10))
}

class DialtoneError : System.Exception {
  [string] $Kind
  [string] $Code
  DialtoneError([string] $kind, [string] $message, [string] $code) : base($message) {
    $this.Kind = $kind
    $this.Code = $code
  }
}

function Get-InstallFix {
  "Install-Module $ModuleName -RequiredVersion $PinnedModuleVersion -Scope AllUsers"
}

function Import-PinnedModule {
  if ($script:moduleImported) { return }
  try {
    Import-Module -Name $ModuleName -RequiredVersion $PinnedModuleVersion -ErrorAction Stop 3>$null 4>$null 5>$null 6>$null | Out-Null
    $script:moduleImported = $true
  } catch {
    $found = @(Get-Module -ListAvailable -Name $ModuleName | ForEach-Object { $_.Version.ToString() })
    $have = if ($found.Count -gt 0) { "found $($found -join ', ')" } else { 'not installed' }
    throw [DialtoneError]::new('notInstalled',
      "The $ModuleName PowerShell module $PinnedModuleVersion is not importable ($have): run '$(Get-InstallFix)' in pwsh as an administrator, or use the worker image. ($(Hide-Secrets $_.Exception.Message))",
      'ModuleNotInstalled')
  }
}

# Classifies a failed cmdlet into the port's kinds. Sources of the patterns:
# - KNOWN (Microsoft docs / module source): HTTP status texts the module's generated ConfigAPI client puts
#   in its messages ("Response status code does not indicate success: 403 (Forbidden)"), Graph's codes
#   (InvalidAuthenticationToken, Authorization_RequestDenied, Request_BadRequest + ObjectConflict and
#   "Another object with the same value for property userPrincipalName already exists."), the verified
#   domain message of Graph's user creation, and the association codes in the module's metadata
#   (AppEndpointAlreadyAssociated, AppEndpointNotFound, AppEndpointMissingProvisioning).
# - GUESSES (no public text found): "not found" wording of Get-CsAutoAttendant / Get-CsCallQueue /
#   Get-CsOnlineApplicationInstanceAssociation for a missing object, the throttling wording, the
#   Retry-After in a message. An error nothing matches is 'transient' (its effect is unknown: the
#   activity looks before it writes again), never a success.
function Resolve-ErrorKind($record) {
  $exception = $record.Exception
  if ($exception -is [DialtoneError]) { return @{ kind = $exception.Kind; message = (Hide-Secrets $exception.Message); code = $exception.Code } }
  $parts = @($exception.Message)
  if ($record.ErrorDetails -and $record.ErrorDetails.Message) { $parts += $record.ErrorDetails.Message }
  if ($exception.InnerException) { $parts += $exception.InnerException.Message }
  $text = Hide-Secrets (($parts | Where-Object { $_ }) -join ' | ')
  $code = $null
  $codeMatch = [regex]::Match($text, '\b(ObjectConflict|AppEndpointAlreadyAssociated|AppEndpointNotFound|AppEndpointMissingProvisioning|ConfigurationNotFound|ConfigurationTypeMismatch|InvalidAuthenticationToken|Authorization_RequestDenied|Request_BadRequest|Request_ResourceNotFound)\b')
  if ($codeMatch.Success) { $code = $codeMatch.Value }
  $answer = @{ message = $text }
  if ($code) { $answer.code = $code }
  $retry = [regex]::Match($text, '(?i)retry-after\D{0,5}(\d+)')
  if ($retry.Success) { $answer.retryAfterMs = [int]$retry.Groups[1].Value * 1000 }
  $answer.kind = switch -Regex ($text) {
    '(?i)InvalidAuthenticationToken|\b401\b|Unauthorized|token (is )?expired|lifetime validation failed' { 'unauthenticated'; break }
    '(?i)Authorization_RequestDenied|\b403\b|Forbidden|Insufficient privileges|not authorized' { 'forbidden'; break }
    '(?i)\b429\b|TooManyRequests|Too Many Requests|throttl' { 'throttled'; break }
    '(?i)ObjectConflict|AppEndpointAlreadyAssociated|already exists|already associated|already in use' { 'conflict'; break }
    '(?i)verified domain|domain portion of the userPrincipalName' { 'domainNotVerified'; break }
    '(?i)AppEndpointMissingProvisioning|ConfigurationTypeMismatch' { 'invalid'; break }
    '(?i)\b404\b|NotFound|not found|does not exist|Couldn''t find|cannot find|ResourceNotFound' { 'notFound'; break }
    '(?i)\b50[0234]\b|ServiceUnavailable|Service Unavailable|GatewayTimeout|Gateway Timeout|timed out|timeout|temporar|try again' { 'transient'; break }
    '(?i)\b400\b|BadRequest|Bad Request|invalid|cannot bind|parameter' { 'invalid'; break }
    default { 'transient' }
  }
  return $answer
}

function Assert-Connected {
  Import-PinnedModule
  if (-not $script:connected) {
    throw [DialtoneError]::new('unauthenticated', 'The session is not connected: send connect with a Graph and a Teams admin token first.', 'NotConnected')
  }
}

function ConvertTo-Instance($item) {
  @{
    objectId = [string]$item.ObjectId
    userPrincipalName = [string]$item.UserPrincipalName
    displayName = [string]$item.DisplayName
    applicationId = [string]$item.ApplicationId
    phoneNumber = if ($item.PhoneNumber) { [string]$item.PhoneNumber } else { $null }
  }
}

function ConvertTo-Association($item, [string] $objectId) {
  $answer = @{
    objectId = if ($item.Id) { [string]$item.Id } else { $objectId }
    configurationId = [string]$item.ConfigurationId
    configurationType = [string]$item.ConfigurationType
  }
  if ($null -ne $item.CallPriority) { $answer.callPriority = [int]$item.CallPriority }
  return $answer
}

# Runs a cmdlet block with every stream but output and errors dropped.
function Invoke-Quietly([scriptblock] $block) {
  return (& $block 3>$null 4>$null 5>$null 6>$null)
}

# True when the failure only says "there is none" (a missing object on a read).
function Test-NotFound($record) {
  return (Resolve-ErrorKind $record).kind -eq 'notFound'
}

# Per-item failures of the association cmdlets come back as output with a Result/StatusCode, not as
# errors (module source: ProcessedCreateApplicationInstanceAssociationsRequest {Id, ConfigurationType,
# ConfigurationId, Result, StatusCode, StatusMessage}); they are raised here so they are classified alike.
function Assert-ItemSucceeded($item) {
  if ($null -eq $item) { return }
  $result = [string]$item.Result
  if ($result -and $result -notmatch '(?i)^success') {
    throw [System.Exception]::new("$($item.StatusCode) $($item.StatusMessage) ($result)")
  }
}

function Invoke-Command-Line([hashtable] $command) {
  switch ($command.op) {
    'hello' {
      $found = @(Get-Module -ListAvailable -Name $ModuleName | ForEach-Object { $_.Version.ToString() } | Sort-Object -Unique)
      $importable = $true
      $problem = $null
      try { Import-PinnedModule } catch { $importable = $false; $problem = $_.Exception.Message }
      $answer = @{
        powershell = $PSVersionTable.PSVersion.ToString()
        module = @{ name = $ModuleName; pinned = $PinnedModuleVersion; importable = $importable; found = $found }
        host = 'pwsh'
      }
      if (-not $importable) { $answer.module.fix = Get-InstallFix; $answer.module.problem = $problem }
      return $answer
    }
    'connect' {
      Import-PinnedModule
      if (-not $command.graphToken -or -not $command.teamsToken) {
        throw [DialtoneError]::new('invalid', 'connect needs graphToken and teamsToken (access tokens for Microsoft Graph and the Skype and Teams Tenant Admin API).', 'MissingToken')
      }
      if ($script:connected) {
        try { Invoke-Quietly { Disconnect-MicrosoftTeams -ErrorAction SilentlyContinue } | Out-Null } catch { $null = $_ }
        $script:connected = $false
      }
      # App-only with two access tokens: "It requires two Access Tokens – “MS Graph” and “Skype and Teams
      # Tenant Admin API” resources." (https://learn.microsoft.com/microsoftteams/teams-powershell-application-authentication)
      $connectArgs = @{ AccessTokens = @([string]$command.graphToken, [string]$command.teamsToken); ErrorAction = 'Stop' }
      if ($command.tenantId) { $connectArgs.TenantId = [string]$command.tenantId }
      try {
        Invoke-Quietly { Connect-MicrosoftTeams @connectArgs } | Out-Null
      } finally {
        $connectArgs = $null
        $command.graphToken = $null
        $command.teamsToken = $null
      }
      $script:connected = $true
      return @{ connected = $true }
    }
    'findMany' {
      Assert-Connected
      $wanted = @($command.upns | ForEach-Object { ([string]$_).ToLowerInvariant() })
      $instances = @()
      if ($wanted.Count -eq 1) {
        try {
          $instances = @(Invoke-Quietly { Get-CsOnlineApplicationInstance -Identity $wanted[0] -ErrorAction Stop })
        } catch {
          if (-not (Test-NotFound $_)) { throw }
        }
      } else {
        # Many at once: one walk through the whole list (the cmdlet pages it) instead of one call each.
        $instances = @(Invoke-Quietly { Get-CsOnlineApplicationInstance -ErrorAction Stop })
      }
      $matched = @($instances | Where-Object { $_ -and $wanted -contains ([string]$_.UserPrincipalName).ToLowerInvariant() } | ForEach-Object { ConvertTo-Instance $_ })
      return @{ instances = $matched }
    }
    'create' {
      Assert-Connected
      $created = Invoke-Quietly {
        New-CsOnlineApplicationInstance -UserPrincipalName $command.userPrincipalName -ApplicationId $command.applicationId -DisplayName $command.displayName -ErrorAction Stop
      } | Select-Object -First 1
      if (-not $created -or -not $created.ObjectId) {
        throw [DialtoneError]::new('transient', 'New-CsOnlineApplicationInstance returned without naming the new object; look it up before creating again.', 'UnexpectedAnswer')
      }
      return (ConvertTo-Instance $created)
    }
    'findVoiceApp' {
      Assert-Connected
      $type = [string]$command.configurationType
      try {
        $app = switch ($type) {
          'AutoAttendant' { Invoke-Quietly { Get-CsAutoAttendant -Identity $command.identity -ErrorAction Stop } | Select-Object -First 1 }
          'CallQueue' { Invoke-Quietly { Get-CsCallQueue -Identity $command.identity -ErrorAction Stop } | Select-Object -First 1 }
          default { throw [DialtoneError]::new('invalid', "configurationType '$type' is not AutoAttendant or CallQueue.", 'ConfigurationTypeInvalid') }
        }
      } catch {
        if (Test-NotFound $_) { return @{ voiceApp = $null } }
        throw
      }
      if (-not $app) { return @{ voiceApp = $null } }
      return @{ voiceApp = @{ identity = [string]$app.Identity; name = [string]$app.Name; configurationType = $type } }
    }
    'getAssociation' {
      Assert-Connected
      try {
        $found = Invoke-Quietly { Get-CsOnlineApplicationInstanceAssociation -Identity $command.objectId -ErrorAction Stop } | Select-Object -First 1
      } catch {
        if (Test-NotFound $_) { return @{ association = $null } }
        throw
      }
      if (-not $found -or -not $found.ConfigurationId) { return @{ association = $null } }
      return @{ association = (ConvertTo-Association $found $command.objectId) }
    }
    'associate' {
      Assert-Connected
      $associateArgs = @{
        Identities = @([string]$command.objectId)
        ConfigurationId = [string]$command.configurationId
        ConfigurationType = [string]$command.configurationType
        ErrorAction = 'Stop'
      }
      if ($null -ne $command.callPriority) { $associateArgs.CallPriority = [int]$command.callPriority }
      $output = Invoke-Quietly { New-CsOnlineApplicationInstanceAssociation @associateArgs }
      $item = @($output.Results) + @($output) | Where-Object { $_ -and $_.PSObject.Properties['ConfigurationId'] } | Select-Object -First 1
      Assert-ItemSucceeded $item
      $association = @{
        objectId = [string]$command.objectId
        configurationId = [string]$command.configurationId
        configurationType = [string]$command.configurationType
      }
      if ($null -ne $command.callPriority) { $association.callPriority = [int]$command.callPriority }
      return @{ association = $association }
    }
    'removeAssociation' {
      Assert-Connected
      try {
        $output = Invoke-Quietly { Remove-CsOnlineApplicationInstanceAssociation -Identities @([string]$command.objectId) -ErrorAction Stop }
        $item = @($output.Results) + @($output) | Where-Object { $_ -and $_.PSObject.Properties['Result'] } | Select-Object -First 1
        Assert-ItemSucceeded $item
      } catch {
        if (Test-NotFound $_) { return @{ removed = $false } }
        throw
      }
      return @{ removed = $true }
    }
    'probe' {
      Assert-Connected
      $listed = @(Invoke-Quietly { Get-CsOnlineApplicationInstance -ResultSize 1 -ErrorAction Stop })
      return @{ detail = "$ModuleName $PinnedModuleVersion connected; Get-CsOnlineApplicationInstance answered ($($listed.Count) shown of at most 1)" }
    }
    default {
      throw [DialtoneError]::new('invalid', "Unknown op '$($command.op)': use hello, connect, findMany, create, findVoiceApp, getAssociation, associate, removeAssociation, probe or quit.", 'UnknownOp')
    }
  }
}

while ($true) {
  $line = $commandReader.ReadLine()
  if ($null -eq $line) { break }
  if ($line.Trim() -eq '') { continue }
  $id = $null
  try {
    $command = ConvertFrom-Json -InputObject $line -AsHashtable -ErrorAction Stop
    $id = $command.id
    if ($command.op -eq 'quit') {
      Send-Answer @{ id = $id; ok = $true; result = @{ bye = $true } }
      break
    }
    $result = Invoke-Command-Line $command
    Send-Answer @{ id = $id; ok = $true; result = $result }
  } catch {
    $failure = Resolve-ErrorKind $_
    Send-Answer @{ id = $id; ok = $false; error = $failure }
  } finally {
    $command = $null
    $line = $null
  }
}
if ($script:connected) {
  try { Invoke-Quietly { Disconnect-MicrosoftTeams -ErrorAction SilentlyContinue } | Out-Null } catch { $null = $_ }
}
exit 0
