# The Python package `murmur` (python/, docs/python.md): a pybind11 extension
# over murmur_core, murmur_robust, murmur_compress and murmur_group (NetHost and
# the collectives, for murmur.Group) only -- never LibTorch,
# so `import murmur` stays fast. Built when pybind11 and the Python headers
# are present (Debian: pybind11-dev, python3-dev; scripts/install_deps.sh).
#
# The package is assembled in ${CMAKE_BINARY_DIR}/python/murmur: the
# extension `_murmur` plus python/murmur/*.py copied beside it, so
# PYTHONPATH=build/python (or the .pth file scripts/install_python.sh writes)
# imports it. `cmake --install build --component python` copies that folder
# to ${CMAKE_INSTALL_PREFIX}/${MURMUR_PYTHON_INSTALL_DIR}.
option(MURMUR_BUILD_PYTHON "Build the Python package (needs pybind11-dev, python3-dev)" ON)
if(NOT MURMUR_BUILD_PYTHON)
  return()
endif()
# Debian's interpreter, unless the caller picks another.
if(NOT DEFINED Python_EXECUTABLE AND EXISTS /usr/bin/python3)
  set(Python_EXECUTABLE /usr/bin/python3)
endif()
find_package(Python COMPONENTS Interpreter Development.Module)
if(Python_FOUND)
  set(PYBIND11_FINDPYTHON ON)
  find_package(pybind11 CONFIG QUIET)
endif()
if(NOT Python_FOUND OR NOT pybind11_FOUND)
  message(STATUS "murmur: Python package not built (install pybind11-dev and python3-dev)")
  return()
endif()

# The static libraries end up in a shared object.
set_target_properties(murmur_core murmur_robust murmur_compress murmur_group murmur_runtime
                      murmur_collective PROPERTIES POSITION_INDEPENDENT_CODE ON)

set(murmur_python_dir ${CMAKE_BINARY_DIR}/python/murmur)
file(GLOB murmur_python_srcs CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/python/src/*.cc)
pybind11_add_module(murmur_python ${murmur_python_srcs})
set_target_properties(murmur_python PROPERTIES
  OUTPUT_NAME _murmur
  LIBRARY_OUTPUT_DIRECTORY ${murmur_python_dir})
target_compile_definitions(murmur_python PRIVATE MURMUR_VERSION="${MURMUR_VERSION}")
target_link_libraries(murmur_python PRIVATE murmur_group murmur_robust murmur_compress murmur_core)

file(GLOB murmur_python_pys CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/python/murmur/*.py)
set(murmur_python_copies)
foreach(py ${murmur_python_pys})
  get_filename_component(py_name ${py} NAME)
  add_custom_command(OUTPUT ${murmur_python_dir}/${py_name}
    COMMAND ${CMAKE_COMMAND} -E copy_if_different ${py} ${murmur_python_dir}/${py_name}
    DEPENDS ${py})
  list(APPEND murmur_python_copies ${murmur_python_dir}/${py_name})
endforeach()
add_custom_target(murmur_python_files ALL DEPENDS ${murmur_python_copies})
add_dependencies(murmur_python murmur_python_files)

set(MURMUR_PYTHON_INSTALL_DIR
    lib/python3/dist-packages CACHE STRING
    "Where `cmake --install --component python` puts the murmur package (relative to the prefix)")
install(DIRECTORY ${murmur_python_dir} DESTINATION ${MURMUR_PYTHON_INSTALL_DIR}
        COMPONENT python EXCLUDE_FROM_ALL
        PATTERN "__pycache__" EXCLUDE)

# murmur._sim: simulations and Python-defined rules (murmur.run,
# murmur.register_rule). A second extension because it links
# murmur_experiment and so LibTorch; murmur/__init__.py imports it only
# inside murmur.run, so `import murmur` stays LibTorch-free. Its static
# libraries must be position-independent too.
set_target_properties(murmur_learn murmur_privacy murmur_protocol murmur_collective murmur_sim murmur_runtime
                      murmur_experiment
                      PROPERTIES POSITION_INDEPENDENT_CODE ON)
file(GLOB murmur_python_sim_srcs CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/python/sim_src/*.cc)
pybind11_add_module(murmur_python_sim ${murmur_python_sim_srcs})
set_target_properties(murmur_python_sim PROPERTIES
  OUTPUT_NAME _sim
  LIBRARY_OUTPUT_DIRECTORY ${murmur_python_dir})
target_link_libraries(murmur_python_sim PRIVATE murmur_experiment murmur_robust murmur_core)
add_dependencies(murmur_python_sim murmur_python_files)
