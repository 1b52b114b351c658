# Finds every C++ code block of a Markdown file (a fence whose info string starts with `cpp` or
# `c++`, indented or not) and writes each to a source file of its own, in the order of the file.
#
#     include(extract.cmake)
#     readme_extract_blocks(${PROJECT_SOURCE_DIR}/README.md ${CMAKE_CURRENT_BINARY_DIR}/blocks names)
#     # names: channels_1;wiring_services_1;...; the sources: blocks/<name>.cpp
#
# Names. A block is named after the nearest heading above it (its text up to a `:`, lowercased,
# each run of other characters than letters and digits made `_`) and its number under that
# heading, from 1: the two blocks under "## Supervising services" are `supervising_services_1`
# and `supervising_services_2`; a block above every heading is under `readme`.
#
# Each source starts with a `#line` directive, so that a compiler's diagnostics name the
# Markdown file and its line. A source is rewritten only when its text changed (an unchanged
# block is not compiled again); sources of blocks that are gone are removed. A fence left open
# at the end of the file is an error, returned in `<names>_ERROR` (the names are then those of
# the blocks before it).
#
# Markdown is read as CMake text, not as a list: the characters CMake's lists treat specially
# (`;`, `[`, `]`, `\`) are swapped for placeholders before the text is cut into lines, and put
# back in what is written.

function(readme_extract_blocks markdown out_dir names_var)
  file(READ "${markdown}" text)
  string(REPLACE "\r\n" "\n" text "${text}")
  set(sc "@readme_semicolon@")
  set(lb "@readme_bracket_open@")
  set(rb "@readme_bracket_close@")
  set(bs "@readme_backslash@")
  string(REPLACE "\\" "${bs}" text "${text}")
  string(REPLACE ";" "${sc}" text "${text}")
  string(REPLACE "[" "${lb}" text "${text}")
  string(REPLACE "]" "${rb}" text "${text}")
  string(REPLACE "\n" ";" lines "${text}")

  set(names "")
  set(section "readme")
  set(count_readme 0)
  set(in_fence FALSE)   # inside a fenced block
  set(fence_indent "")  # the indentation of its opening fence
  set(is_cpp FALSE)     # that block is C++
  set(lineno 0)
  file(MAKE_DIRECTORY "${out_dir}")
  foreach(line IN LISTS lines)
    math(EXPR lineno "${lineno} + 1")
    if(in_fence)
      if(line MATCHES "^[ \t]*```[ \t]*$")
        if(is_cpp)
          # The code, with what CMake's lists take specially put back.
          string(REPLACE "${bs}" "\\" code "${code}")
          string(REPLACE "${sc}" ";" code "${code}")
          string(REPLACE "${lb}" "[" code "${code}")
          string(REPLACE "${rb}" "]" code "${code}")
          math(EXPR count_${section} "${count_${section}} + 1")
          set(name "${section}_${count_${section}}")
          file(WRITE "${out_dir}/${name}.cpp.new" "#line ${first_line} \"${markdown}\"\n${code}")
          file(COPY_FILE "${out_dir}/${name}.cpp.new" "${out_dir}/${name}.cpp" ONLY_IF_DIFFERENT)
          file(REMOVE "${out_dir}/${name}.cpp.new")
          list(APPEND names "${name}")
        endif()
        set(in_fence FALSE)
      elseif(is_cpp)
        # A block inside a list item is indented as its fence: that indentation is not code.
        string(LENGTH "${fence_indent}" indent)
        if(indent GREATER 0)
          string(LENGTH "${line}" length)
          if(length GREATER_EQUAL indent)
            string(SUBSTRING "${line}" 0 ${indent} lead)
            if(lead STREQUAL fence_indent)
              string(SUBSTRING "${line}" ${indent} -1 line)
            endif()
          endif()
        endif()
        string(APPEND code "${line}\n")
      endif()
    elseif(line MATCHES "^([ \t]*)```(.*)$")
      set(in_fence TRUE)
      set(fence_indent "${CMAKE_MATCH_1}")
      string(STRIP "${CMAKE_MATCH_2}" info)
      string(TOLOWER "${info}" info)
      if(info MATCHES "^(cpp|c\\+\\+)([ \t{].*)?$")
        set(is_cpp TRUE)
        set(code "")
        math(EXPR first_line "${lineno} + 1")
      else()
        set(is_cpp FALSE)
      endif()
      set(opened_at ${lineno})
    elseif(line MATCHES "^#+[ \t]+(.+)$")
      set(heading "${CMAKE_MATCH_1}")
      foreach(placeholder IN ITEMS bs sc lb rb)
        string(REPLACE "${${placeholder}}" " " heading "${heading}")
      endforeach()
      string(REGEX REPLACE ":.*$" "" heading "${heading}")
      string(TOLOWER "${heading}" heading)
      string(REGEX REPLACE "[^a-z0-9]+" "_" heading "${heading}")
      string(REGEX REPLACE "^_+|_+$" "" heading "${heading}")
      if(heading STREQUAL "")
        set(heading "section")
      endif()
      set(section "${heading}")
      if(NOT DEFINED count_${section})
        set(count_${section} 0)
      endif()
    endif()
  endforeach()

  set(error "")
  if(in_fence)
    set(error "${markdown}: the code block opened at line ${opened_at} is not closed")
  endif()
  # Sources of blocks that are no longer there.
  file(GLOB written "${out_dir}/*.cpp")
  foreach(file IN LISTS written)
    get_filename_component(stem "${file}" NAME_WE)
    if(NOT stem IN_LIST names)
      file(REMOVE "${file}")
    endif()
  endforeach()
  set(${names_var} "${names}" PARENT_SCOPE)
  set(${names_var}_ERROR "${error}" PARENT_SCOPE)
endfunction()
