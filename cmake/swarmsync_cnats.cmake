# The cnats target, cnats::nats, for the NATS transport: used by the build and installed with the
# package (swarmsyncConfig.cmake includes it when the transport was built).
#
# Debian 12's libnats-dev ships a cnats-config.cmake that also imports cnats::nats_static, whose
# libnats_static.a is not in the package, so find_package(cnats) stops with a fatal error there.
# Use the package's config when the static library exists (the config is whole), else define the
# same target from the shared library and the header.
if(NOT TARGET cnats::nats)
  find_library(SWARMSYNC_CNATS_STATIC_LIBRARY nats_static)
  if(SWARMSYNC_CNATS_STATIC_LIBRARY)
    find_package(cnats REQUIRED)
  else()
    find_path(SWARMSYNC_CNATS_INCLUDE_DIR nats/nats.h REQUIRED)
    find_library(SWARMSYNC_CNATS_LIBRARY nats REQUIRED)
    add_library(cnats::nats SHARED IMPORTED)
    set_target_properties(cnats::nats PROPERTIES
      IMPORTED_LOCATION "${SWARMSYNC_CNATS_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${SWARMSYNC_CNATS_INCLUDE_DIR}")
  endif()
endif()
