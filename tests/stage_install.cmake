# cmake -DBUILD=<build dir> -DPREFIX=<dir> -P stage_install.cmake
# A fresh install of the build tree into PREFIX, as a user would make it.
file(REMOVE_RECURSE ${PREFIX})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD} --prefix ${PREFIX}
  RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install ${BUILD} --prefix ${PREFIX} failed: ${rc}")
endif()
foreach(f lib/libturbo.so lib/libturbo.a include/turbo/turbo.h lib/pkgconfig/turbo.pc
          lib/cmake/turbo/turboConfig.cmake lib/cmake/turbo/turboTargets.cmake)
  if(NOT EXISTS ${PREFIX}/${f})
    message(FATAL_ERROR "the install has no ${f}")
  endif()
endforeach()
