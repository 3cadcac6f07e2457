/*
** edit.c: netsock.edit, line editing and history for the console
** (bin/netsock) through libedit (BSD licence; GNU readline, which the
** lua5.4 binary links, is GPL). Built only where pkg-config finds
** libedit; the console falls back to a plain line reader without it.
**
** The console's loop, not libedit, owns the wait for input: libedit
** runs unbuffered (EL_UNBUFFERED), so el_gets reads and handles one
** key each time the loop says stdin is readable and returns at once.
** Only libedit's own API is used (el_*, history): its readline
** emulation has the same symbol names as the GNU readline already
** loaded into lua5.4, which would win.
**
**   local e = edit.new(progname)    -- nil, message when stdin is no tty
**   e:prompt(text)                  -- shows the prompt (raw mode)
**   e:feed()                        -- at readable stdin: the line once
**                                   -- complete, nil meanwhile, false at
**                                   -- Ctrl-D on an empty line
**   e:abandon()                     -- the line is dropped (Ctrl-C)
**   e:add(line)                     -- into the history (bounded)
**   e:redraw()                      -- prompt and line again (after output)
**   e:resize()                      -- at SIGWINCH
**   e:close()
*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <histedit.h>

#include "lua.h"
#include "lauxlib.h"

#define EDITOR  "netsock.editor"
#define PROMPTMAX  64
#define HISTLINES  1000   /* the history's bound: this many lines, */
#define HISTLINE   4096   /* each at most this long (4 MiB in all) */

typedef struct {
  EditLine *el;
  History *hist;
  int active;              /* a prompt is shown (raw mode) */
  unsigned char eofchar;   /* the terminal's VEOF, Ctrl-D by default */
  char prompt[PROMPTMAX];
} nsEditor;

__attribute__((visibility("default")))
int luaopen_netsock_edit (lua_State *L);


static char *promptfn (EditLine *el) {
  nsEditor *e = NULL;
  if (el_get(el, EL_CLIENTDATA, &e) != 0 || e == NULL) return (char *)"> ";
  return e->prompt;
}


static nsEditor *checkeditor (lua_State *L) {
  nsEditor *e = (nsEditor *)luaL_checkudata(L, 1, EDITOR);
  if (e->el == NULL) luaL_error(L, "attempt to use a closed editor");
  return e;
}


/* leave the prompt: the terminal back in its own (cooked) mode */
static void finish (nsEditor *e) {
  if (e->active) {
    el_set(e->el, EL_UNBUFFERED, 0);
    e->active = 0;
  }
}


static int edit_close (lua_State *L) {
  nsEditor *e = (nsEditor *)luaL_checkudata(L, 1, EDITOR);
  if (e->el != NULL) {
    finish(e);
    el_end(e->el);
    e->el = NULL;
  }
  if (e->hist != NULL) {
    history_end(e->hist);
    e->hist = NULL;
  }
  return 0;
}


/* edit.new(progname): an editor on stdin/stdout, or nil, message */
static int edit_new (lua_State *L) {
  const char *prog = luaL_optstring(L, 1, "netsock");
  nsEditor *e;
  HistEvent ev;
  if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
    lua_pushnil(L);
    lua_pushliteral(L, "not a terminal");
    return 2;
  }
  e = (nsEditor *)lua_newuserdatauv(L, sizeof(nsEditor), 0);
  memset(e, 0, sizeof *e);
  luaL_setmetatable(L, EDITOR);
  e->el = el_init(prog, stdin, stdout, stderr);
  e->hist = history_init();
  if (e->el == NULL || e->hist == NULL) {
    edit_close(L);
    lua_pushnil(L);
    lua_pushliteral(L, "libedit could not start");
    return 2;
  }
  history(e->hist, &ev, H_SETSIZE, HISTLINES);
  history(e->hist, &ev, H_SETUNIQUE, 1);
  el_set(e->el, EL_CLIENTDATA, (void *)e);
  el_set(e->el, EL_EDITOR, "emacs");
  el_set(e->el, EL_SIGNAL, 0);     /* the console's loop owns signals */
  el_set(e->el, EL_HIST, history, e->hist);
  el_set(e->el, EL_PROMPT, promptfn);
  el_source(e->el, NULL);          /* ~/.editrc, as other libedit programs */
  /* between prompts the terminal stays non-canonical and silent: a key
     typed while a chunk runs waits in the queue as the key it is (in
     canonical mode the line discipline would eat Ctrl-D, turning it into
     a NUL for the next raw read, and echo the rest a second time);
     el_end puts the terminal's own mode back */
  el_set(e->el, EL_SETTY, "-x", "-icanon", "-echo", (const char *)NULL);
  strcpy(e->prompt, "> ");
  e->eofchar = 4;
  {
    struct termios t;
    if (tcgetattr(STDIN_FILENO, &t) == 0 && t.c_cc[VEOF] != 0)
      e->eofchar = (unsigned char)t.c_cc[VEOF];
  }
  return 1;
}


/* e:prompt(text): show a prompt and wait for keys (see feed) */
static int edit_prompt (lua_State *L) {
  nsEditor *e = checkeditor(L);
  size_t len;
  const char *p = luaL_checklstring(L, 2, &len);
  luaL_argcheck(L, len < PROMPTMAX && strlen(p) == len, 2, "prompt too long");
  memcpy(e->prompt, p, len + 1);
  finish(e);
  el_set(e->el, EL_UNBUFFERED, 1);  /* raw mode, prompt drawn */
  e->active = 1;
  return 0;
}


/*
** e:feed(): handle what the terminal sent. The line (without its end)
** once Enter was pressed; nil while the line is being edited; false at
** Ctrl-D on an empty line or when the terminal is gone.
*/
static int edit_feed (lua_State *L) {
  nsEditor *e = checkeditor(L);
  int count = 0, avail = 0;
  const char *buf;
  if (!e->active) return 0;
  /* readable with nothing to read: the terminal hung up (el_gets cannot
     tell: it returns NULL, count -1 for a line left empty by a key too) */
  if (ioctl(STDIN_FILENO, FIONREAD, &avail) == 0 && avail == 0) {
    finish(e);
    lua_pushboolean(L, 0);
    return 1;
  }
  buf = el_gets(e->el, &count);
  if (buf == NULL || count <= 0)
    return 0;  /* the line is empty now (an editing key) */
  if (count == 1 && (unsigned char)buf[0] == e->eofchar) {
    finish(e);  /* Ctrl-D on an empty line: libedit hands the key over */
    lua_pushboolean(L, 0);
    return 1;
  }
  if (buf[count - 1] == '\n' || buf[count - 1] == '\r') {
    finish(e);
    lua_pushlstring(L, buf, (size_t)count - 1);
    return 1;
  }
  return 0;
}


/* e:abandon(): drop the line being edited (Ctrl-C); cooked mode */
static int edit_abandon (lua_State *L) {
  nsEditor *e = checkeditor(L);
  finish(e);
  el_reset(e->el);
  return 0;
}


/* e:resize(): the terminal changed size (SIGWINCH) */
static int edit_resize (lua_State *L) {
  nsEditor *e = checkeditor(L);
  el_resize(e->el);
  return 0;
}


/*
** e:redraw(): the prompt and the line typed so far again, after output
** of another task moved the cursor (the caller cleared the line first)
*/
static int edit_redraw (lua_State *L) {
  nsEditor *e = checkeditor(L);
  if (e->active) el_set(e->el, EL_REFRESH);
  return 0;
}


/*
** e:add(line): into the history, which keeps the last HISTLINES lines;
** an empty line, or one longer than HISTLINE bytes, is not kept
*/
static int edit_add (lua_State *L) {
  nsEditor *e = checkeditor(L);
  size_t len;
  const char *line = luaL_checklstring(L, 2, &len);
  HistEvent ev;
  if (len > 0 && len <= HISTLINE) history(e->hist, &ev, H_ENTER, line);
  return 0;
}


/* e:_history(): how many lines the history holds, and their bytes */
static int edit_histinfo (lua_State *L) {
  nsEditor *e = checkeditor(L);
  HistEvent ev;
  lua_Integer n = 0, bytes = 0;
  int r;
  for (r = history(e->hist, &ev, H_FIRST); r >= 0; r = history(e->hist, &ev, H_NEXT)) {
    n++;
    bytes += (lua_Integer)strlen(ev.str);
  }
  lua_pushinteger(L, n);
  lua_pushinteger(L, bytes);
  return 2;
}


int luaopen_netsock_edit (lua_State *L) {
  static const luaL_Reg methods[] = {
    {"prompt", edit_prompt},
    {"feed", edit_feed},
    {"abandon", edit_abandon},
    {"add", edit_add},
    {"_history", edit_histinfo},
    {"resize", edit_resize},
    {"redraw", edit_redraw},
    {"close", edit_close},
    {NULL, NULL}
  };
  static const luaL_Reg meta[] = {
    {"__gc", edit_close},
    {"__close", edit_close},
    {NULL, NULL}
  };
  luaL_newmetatable(L, EDITOR);
  luaL_setfuncs(L, meta, 0);
  luaL_newlib(L, methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  lua_newtable(L);
  lua_pushcfunction(L, edit_new);
  lua_setfield(L, -2, "new");
  return 1;
}
