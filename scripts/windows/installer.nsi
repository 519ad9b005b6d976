; mfa-tray's Windows installer, built offline with Debian's makensis by
; scripts/package-windows (the Tauri bundler's NSIS target downloads a plugin,
; nsis_tauri_utils.dll, from GitHub, which these machines cannot reach).
; Per user, no administrator rights (as Tauri's default): both programs go to
; %LOCALAPPDATA%\Programs\mfa-tray, a Start menu entry starts the tray, and the
; directory is added to the user's PATH so `mfa-tray` runs in a new terminal.
; Uninstalling removes those and the start-at-login entry, and never touches the
; user's %USERPROFILE%\.aws or mfa-tray's settings.
; makensis -DVERSION=x.y.z -DBIN=dir-with-the-exes -DOUT=setup.exe installer.nsi

Unicode true
; 64-bit, as the programs: Wine without 32-bit support (wine64 alone) runs it too.
Target amd64-unicode
!include "WinMessages.nsh"
!include "LogicLib.nsh"
!include "StrFunc.nsh"
${StrRep}
${UnStrRep}

!define NAME "mfa-tray"
!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\${NAME}"

Name "${NAME} ${VERSION}"
OutFile "${OUT}"
Icon "${ICON}"
UninstallIcon "${ICON}"
RequestExecutionLevel user
InstallDir "$LOCALAPPDATA\Programs\${NAME}"
SetCompressor /SOLID lzma
ShowInstDetails show

Page directory
Page instfiles
UninstPage uninstConfirm
UninstPage instfiles

; $R0 (a PATH) without the entry $INSTDIR, every other byte kept.
!macro WithoutInstDir un
  ${${un}StrRep} $R0 ";$R0;" ";$INSTDIR;" ";"
  StrCpy $R0 $R0 "" 1
  StrCpy $R0 $R0 -1
!macroend

; Whether the user has a PATH value ($R3: 1 or 0). ReadRegStr fails both when there is
; none and when it is longer than this NSIS holds (1024 characters); a PATH read as ""
; must never be written back.
!macro HasPath
  StrCpy $R2 0
  StrCpy $R3 0
  ${Do}
    ClearErrors
    EnumRegValue $R4 HKCU "Environment" $R2
    ${If} ${Errors}
    ${OrIf} $R4 == ""
      ${ExitDo}
    ${EndIf}
    ${If} $R4 == "Path"
      StrCpy $R3 1
    ${EndIf}
    IntOp $R2 $R2 + 1
  ${Loop}
!macroend

Section "mfa-tray"
  SetOutPath "$INSTDIR"
  File "${BIN}\mfa-tray.exe"
  File "${BIN}\mfa-tray-app.exe"
  File "${BIN}\mfa-tray-window.exe"
  WriteUninstaller "$INSTDIR\uninstall.exe"
  CreateShortCut "$SMPROGRAMS\mfa-tray.lnk" "$INSTDIR\mfa-tray-app.exe"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayName" "${NAME}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "Publisher" "mfa-tray"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayIcon" "$INSTDIR\mfa-tray-app.exe"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKCU "${UNINSTALL_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoRepair" 1
  ; The command line on the user's PATH, unless it is there already (the uninstaller
  ; then takes out only what this added), or the PATH is too long to edit safely here.
  !insertmacro HasPath
  ClearErrors
  ReadRegStr $R0 HKCU "Environment" "Path"
  ${If} ${Errors}
  ${AndIf} $R3 == 1
    DetailPrint "Your PATH is too long for this installer to change: add $INSTDIR to it yourself."
    Return
  ${EndIf}
  ${StrRep} $R1 ";$R0;" ";$INSTDIR;" ";"
  ${If} $R1 != ";$R0;"
    Return
  ${EndIf}
  ${If} $R0 == ""
    StrCpy $R0 "$INSTDIR"
  ${Else}
    StrCpy $R0 "$R0;$INSTDIR"
  ${EndIf}
  StrLen $R1 $R0
  ${If} $R1 >= 1000
    DetailPrint "Your PATH is too long for this installer to change: add $INSTDIR to it yourself."
    Return
  ${EndIf}
  WriteRegExpandStr HKCU "Environment" "Path" "$R0"
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "AddedToPath" 1
  SendMessage ${HWND_BROADCAST} ${WM_SETTINGCHANGE} 0 "STR:Environment" /TIMEOUT=500
SectionEnd

Section "Uninstall"
  ; A running tray keeps its .exe (and hides no window to close): stop it.
  nsExec::Exec 'taskkill /F /IM mfa-tray-app.exe'
  nsExec::Exec 'taskkill /F /IM mfa-tray-window.exe'
  Delete "$INSTDIR\mfa-tray.exe"
  Delete "$INSTDIR\mfa-tray-app.exe"
  Delete "$INSTDIR\mfa-tray-window.exe"
  ${If} ${FileExists} "$INSTDIR\mfa-tray-app.exe"
  ${OrIf} ${FileExists} "$INSTDIR\mfa-tray.exe"
    Delete /REBOOTOK "$INSTDIR\mfa-tray.exe"
    Delete /REBOOTOK "$INSTDIR\mfa-tray-app.exe"
    Delete /REBOOTOK "$INSTDIR\mfa-tray-window.exe"
    DetailPrint "mfa-tray is still running: it will be removed when Windows restarts."
  ${EndIf}
  Delete "$INSTDIR\uninstall.exe"
  RMDir /REBOOTOK "$INSTDIR"
  Delete "$SMPROGRAMS\mfa-tray.lnk"
  ; Start at login (tauri-plugin-autostart's Run value) goes with the program.
  DeleteRegValue HKCU "Software\Microsoft\Windows\CurrentVersion\Run" "${NAME}"
  ReadRegDWORD $R5 HKCU "${UNINSTALL_KEY}" "AddedToPath"
  DeleteRegKey HKCU "${UNINSTALL_KEY}"
  ${If} $R5 == 1
    ClearErrors
    ReadRegStr $R0 HKCU "Environment" "Path"
    ${IfNot} ${Errors}
      !insertmacro WithoutInstDir "Un"
      ${If} $R0 == ""
        DeleteRegValue HKCU "Environment" "Path"
      ${Else}
        WriteRegExpandStr HKCU "Environment" "Path" "$R0"
      ${EndIf}
      SendMessage ${HWND_BROADCAST} ${WM_SETTINGCHANGE} 0 "STR:Environment" /TIMEOUT=500
    ${EndIf}
  ${EndIf}
SectionEnd
