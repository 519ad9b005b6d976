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

; The user's PATH without $INSTDIR (in $R0: the path read, out: the path cleaned).
!macro WithoutInstDir un
  ${${un}StrRep} $R0 ";$R0;" ";$INSTDIR;" ";"
  ${${un}StrRep} $R0 "$R0" ";;" ";"
  StrCpy $R1 $R0 1
  StrCmp $R1 ";" 0 +2
  StrCpy $R0 $R0 "" 1
  StrCpy $R1 $R0 1 -1
  StrCmp $R1 ";" 0 +2
  StrCpy $R0 $R0 -1
!macroend

Section "mfa-tray"
  SetOutPath "$INSTDIR"
  File "${BIN}\mfa-tray.exe"
  File "${BIN}\mfa-tray-app.exe"
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
  ; The command line on the user's PATH (once, however often it is installed).
  ReadRegStr $R0 HKCU "Environment" "Path"
  !insertmacro WithoutInstDir ""
  StrCmp $R0 "" 0 +3
  StrCpy $R0 "$INSTDIR"
  Goto +2
  StrCpy $R0 "$R0;$INSTDIR"
  WriteRegExpandStr HKCU "Environment" "Path" "$R0"
  SendMessage ${HWND_BROADCAST} ${WM_SETTINGCHANGE} 0 "STR:Environment" /TIMEOUT=500
SectionEnd

Section "Uninstall"
  ; A running tray would keep its .exe: ask it to go first.
  nsExec::Exec 'taskkill /IM mfa-tray-app.exe'
  Delete "$INSTDIR\mfa-tray.exe"
  Delete "$INSTDIR\mfa-tray-app.exe"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  Delete "$SMPROGRAMS\mfa-tray.lnk"
  ; Start at login (tauri-plugin-autostart's Run value) goes with the program.
  DeleteRegValue HKCU "Software\Microsoft\Windows\CurrentVersion\Run" "${NAME}"
  DeleteRegKey HKCU "${UNINSTALL_KEY}"
  ReadRegStr $R0 HKCU "Environment" "Path"
  !insertmacro WithoutInstDir "Un"
  WriteRegExpandStr HKCU "Environment" "Path" "$R0"
  SendMessage ${HWND_BROADCAST} ${WM_SETTINGCHANGE} 0 "STR:Environment" /TIMEOUT=500
SectionEnd
