# The BEAM twins of greenserver's benchmark cases (bench/_beam.py runs them).
#
#     elixir --erl "+P 2000000" bench/beam/twins.exs CASE N
#
# CASE is call, cast, start_link, idle_mem or million; N the operations,
# servers or children. Each run warms up, measures once and prints one JSON
# line (Elixir 1.14 has no JSON module: the figures are flat numbers, so the
# line is built by hand). Times are from :erlang.monotonic_time, memory from
# /proc/self (the same sources as the Python side), so the ratios compare
# like with like.

defmodule Twins.Echo do
  # greenserver's bench Echo: a call answers its request, a cast counts.
  use GenServer

  def start_link(arg), do: GenServer.start_link(__MODULE__, arg)

  @impl true
  def init(nil), do: {:ok, 0}
  def init(arg), do: {:ok, arg}

  @impl true
  def handle_call(request, _from, state), do: {:reply, request, state}

  @impl true
  def handle_cast(_request, state), do: {:noreply, state + 1}
end

defmodule Twins.Holder do
  # bench._million's Holder: a child with a small state; a call returns its id.
  use GenServer

  def start_link(id), do: GenServer.start_link(__MODULE__, id)

  @impl true
  def init(id), do: {:ok, %{id: id, hits: 0}}

  @impl true
  def handle_call(:get, _from, state), do: {:reply, state.id, %{state | hits: state.hits + 1}}
end

defmodule Twins do
  @warmup 1_000

  def main([name, n]) do
    n = String.to_integer(n)
    figures = run(name, n)
    line = Enum.map_join([{:case, name}, {:n, n} | figures], ", ", &field/1)
    IO.puts("{" <> line <> "}")
  end

  def main(argv) do
    IO.puts(:stderr, "usage: elixir bench/beam/twins.exs CASE N; got #{inspect(argv)}")
    System.halt(2)
  end

  defp field({key, value}) when is_binary(value), do: ~s("#{key}": "#{value}")
  defp field({key, value}) when is_boolean(value), do: ~s("#{key}": #{value})
  defp field({key, value}), do: ~s("#{key}": #{value})

  # --- cases ------------------------------------------------------------------

  # Round trip: GenServer.call on an Echo server from the main process.
  defp run("call", n) do
    {:ok, pid} = Twins.Echo.start_link(nil)
    calls(pid, @warmup)
    {elapsed, last} = timed(fn -> calls(pid, n) end)
    check(last == n - 1, "last reply #{inspect(last)}, expected #{n - 1}")
    GenServer.stop(pid)
    [seconds_per_op: elapsed / n]
  end

  # N casts, then one call as a barrier (all handled); per cast.
  defp run("cast", n) do
    {:ok, pid} = Twins.Echo.start_link(nil)
    casts(pid, @warmup)
    :warmup = GenServer.call(pid, :warmup)
    {elapsed, :barrier} = timed(fn -> casts(pid, n) && GenServer.call(pid, :barrier) end)
    check(:sys.get_state(pid) == @warmup + n, "state #{:sys.get_state(pid)}")
    GenServer.stop(pid)
    [seconds_per_op: elapsed / n]
  end

  # start_link of N Echo servers, all alive at the end; per server.
  defp run("start_link", n) do
    stop_all(start_many(@warmup))
    :erlang.garbage_collect()
    {elapsed, pids} = timed(fn -> start_many(n) end)
    check(length(pids) == n and Enum.all?(pids, &Process.alive?/1), "not all alive")
    stop_all(pids)
    [seconds_per_op: elapsed / n]
  end

  # Memory per idle GenServer (started unlinked, blocked in its receive).
  defp run("idle_mem", n) do
    Enum.each(start_unlinked(200), &GenServer.stop/1)
    :erlang.garbage_collect()
    rss0 = rss_bytes()
    procs0 = :erlang.memory(:processes)
    pids = start_unlinked(n)
    :erlang.garbage_collect()
    rss1 = rss_bytes()
    procs1 = :erlang.memory(:processes)
    info = pids |> Enum.map(fn pid -> elem(Process.info(pid, :memory), 1) end) |> Enum.sum()
    waiting = Enum.count(pids, fn pid -> Process.info(pid, :status) == {:status, :waiting} end)
    check(waiting == n, "#{waiting} of #{n} servers waiting")

    [
      bytes_per_proc: (rss1 - rss0) / n,
      processes_bytes_per_proc: (procs1 - procs0) / n,
      process_info_bytes_per_proc: info / n
    ]
  end

  # N GenServers under one DynamicSupervisor; each answers one call after.
  defp run("million", n) do
    {:ok, sup} = DynamicSupervisor.start_link(strategy: :one_for_one)
    {start_s, pids} = timed(fn -> start_children(sup, n) end)
    {call_s, answered} = timed(fn -> answered(pids) end)
    %{active: active} = DynamicSupervisor.count_children(sup)
    check(active == n, "#{active} children active, expected #{n}")

    [
      start_s: start_s,
      call_s: call_s,
      peak_rss: peak_rss_bytes(),
      answered: answered,
      all_answered: answered == n
    ]
  end

  defp run(name, _n) do
    IO.puts(:stderr, "unknown case #{inspect(name)}; known: call, cast, start_link, idle_mem, million")
    System.halt(2)
  end

  # --- helpers ------------------------------------------------------------------

  defp timed(fun) do
    t0 = :erlang.monotonic_time(:nanosecond)
    result = fun.()
    {(:erlang.monotonic_time(:nanosecond) - t0) / 1.0e9, result}
  end

  defp check(true, _message), do: :ok

  defp check(false, message) do
    IO.puts(:stderr, "check failed: #{message}")
    System.halt(1)
  end

  defp calls(pid, n), do: calls(pid, 0, n, nil)
  defp calls(_pid, n, n, last), do: last
  defp calls(pid, i, n, _last), do: calls(pid, i + 1, n, GenServer.call(pid, i))

  defp casts(_pid, 0), do: true
  defp casts(pid, k), do: (GenServer.cast(pid, k) && casts(pid, k - 1))

  defp start_many(n), do: for(i <- 1..n//1, do: ok!(Twins.Echo.start_link(i)))
  defp start_unlinked(n), do: for(_ <- 1..n//1, do: ok!(GenServer.start(Twins.Echo, nil)))
  defp start_children(sup, n),
    do: for(i <- 0..(n - 1)//1, do: ok!(DynamicSupervisor.start_child(sup, {Twins.Holder, i})))

  defp stop_all(pids), do: Enum.each(pids, &GenServer.stop/1)

  defp answered(pids), do: answered(pids, 0, 0)
  defp answered([], _i, count), do: count

  defp answered([pid | rest], i, count),
    do: answered(rest, i + 1, if(GenServer.call(pid, :get) == i, do: count + 1, else: count))

  defp ok!({:ok, pid}), do: pid

  defp rss_bytes do
    [_size, resident | _] = File.read!("/proc/self/statm") |> String.split()
    String.to_integer(resident) * page_size()
  end

  defp page_size do
    {out, 0} = System.cmd("getconf", ["PAGESIZE"])
    String.to_integer(String.trim(out))
  end

  # VmHWM: the peak resident set, as ru_maxrss on the Python side.
  defp peak_rss_bytes do
    [kib] =
      for line <- String.split(File.read!("/proc/self/status"), "\n"),
          String.starts_with?(line, "VmHWM:"),
          do: line |> String.split() |> Enum.at(1) |> String.to_integer()

    kib * 1024
  end
end

Twins.main(System.argv())
